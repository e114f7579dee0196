"""What the console accepts from a URL: its path parameters, and the query strings of its
change lists. Malformed input is refused where it enters, with 404 (a path that names nothing)
or 400 (a query string the admin cannot use), never a 500 from deeper down."""

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import BadRequest
from django.urls import register_converter
from django.urls.converters import get_converters

from batch_jobs.models import JobRun

#: The longest job name a run record holds (``JobRun.job``).
JOB_NAME_LENGTH = JobRun._meta.get_field("job").max_length
#: The largest primary key of a run record (a signed 64-bit ``BigAutoField``).
RUN_ID_MAX = 2**63 - 1


class JobNameConverter:
    """A job's name in a console URL: a command name as Django finds it (any module name, so
    records of a job run through ``manage.py`` keep their page), at most as long as the column
    that holds it, and printable: a NUL, which PostgreSQL's text cannot hold, or any other
    control character names no job."""

    regex = f"[^/]{{1,{JOB_NAME_LENGTH}}}"

    def to_python(self, value):
        if not value.isprintable():
            raise ValueError("not a job name")  # the URL matches nothing: 404
        return value

    def to_url(self, value):
        return value


class RunIdConverter:
    """A run record's id in a console URL: a number the id column can hold."""

    regex = "[0-9]{1,19}"

    def to_python(self, value):
        run_id = int(value)
        if run_id > RUN_ID_MAX:
            raise ValueError("not a run id")  # the URL matches nothing: 404
        return run_id

    def to_url(self, value):
        return str(value)


for _name, _converter in [("batch_jobs_job", JobNameConverter), ("batch_jobs_run", RunIdConverter)]:
    if _name not in get_converters():  # once per process; Django 6 refuses a second time
        register_converter(_converter, _name)


class ConsoleChangeList(ChangeList):
    """The admin's change list, with the bad dates of ``date_hierarchy`` refused as the bad
    lookups they are. Django 5.2 catches only the ``ValueError`` of building the first day:
    ``?started_at__year=99999999999`` overflows (``OverflowError``) and ``?started_at__year=9999``
    fails on the year after; both were 500s (Django's ticket #37357, fixed the same way)."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as e:
            raise IncorrectLookupParameters(e) from e


class ConsoleQueries:
    """The console's admins' input: a record's id with a NUL names no record, and a query
    string the change list cannot use is a 400. Django's own answer to a bad lookup, a
    redirect to ``?e=1``, ends on a page that blames the database installation; this one says
    what happened."""

    def get_object(self, request, object_id, from_field=None):
        # A record's id in the admin's own URLs (change, history): one with a NUL names no
        # record, and PostgreSQL refuses to compare text with it (JobPause's key is a name).
        if "\x00" in object_id:
            return None  # the admin's answer for a record that does not exist
        return super().get_object(request, object_id, from_field)

    def get_changelist(self, request, **kwargs):
        return ConsoleChangeList

    def get_changelist_instance(self, request):
        refuse_unstorable(request.GET)
        try:
            return super().get_changelist_instance(request)
        except IncorrectLookupParameters as e:
            raise BadRequest(f"a filter of this page cannot be used: {e}") from e


def refuse_unstorable(query):
    """400 for a query string holding a NUL: a filter value compared with a text column would
    reach the database, whose text cannot hold it (PostgreSQL refuses the whole query)."""
    for key, values in query.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            raise BadRequest("a NUL character in the query string")
