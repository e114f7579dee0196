"""docs/how-to/data-migrations.md shows the example project's three deploys: its migrations
as they are in app/store/migrations, and its backfill's walk as the job walks."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "how-to" / "data-migrations.md"


def python_blocks():
    """``{path in the first comment line: the rest of the block}``."""
    blocks = re.findall(r"^```python\n# (\S+)\n(.*?)^```", PAGE.read_text(), flags=re.M | re.S)
    return {path: body for path, body in blocks}


def code(text):
    """Code lines, without comments, docstrings' prose or blank lines."""
    text = re.sub(r'^""".*?"""\n', "", text, flags=re.S)
    return [line for line in text.splitlines() if line.strip()]


def test_the_migrations_on_the_page_are_the_example_projects():
    blocks = python_blocks()
    for name in ("0003_customer_joined_at.py", "0004_require_backfill_joined_at.py"):
        path = f"app/store/migrations/{name}"
        assert code(blocks[path]) == code((ROOT / path).read_text()), path


def test_the_backfill_on_the_page_walks_as_the_example_job():
    path = "app/store/management/commands/backfill_joined_at.py"
    shown = code(python_blocks()[path])
    job = (ROOT / path).read_text()
    walk = shown[shown.index("    def fill(self, batch):") :]
    assert "\n".join(walk) in job
    assert "        self.run_batches(Customer.objects.all(), self.fill)" in shown
    assert "        self.run_batches(Customer.objects.all(), self.fill)" in job
