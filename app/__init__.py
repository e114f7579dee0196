"""The Django project: settings, URLs and the domain apps the jobs act on."""
