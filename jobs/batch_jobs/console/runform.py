"""The Run form of a job's page: a field per parameter of the job's own parser
(``operations.parameters``), ``--dry-run`` first and on. Every field is taken as text and the
job's parser decides, so the form refuses what the runner would, with the parser's message. A
file argument (``batch_jobs.StoredFile``) is an upload, saved to the storage
(``operations.uploads``) only once the rest is accepted, and passed as ``storage:NAME``."""

from django import forms

from batch_jobs.operations import control, parameters, uploads


def field_for(p):
    """The form field of parameter ``p``: every value as text, for the parser to judge."""
    about = [p.kind if p.kind != "switch" else "on or off"]
    if p.choices:
        about = ["one of " + ", ".join(p.choices)]
    if p.many:
        about.append("one value per line")
    if p.required:
        about.append("required")
    if p.default not in (None, "", False) and not p.secret and "default" not in p.help:
        about.append(f"default {p.default}")
    help_text = f"{p.help} ({'; '.join(about)})" if p.help else f"({'; '.join(about)})"
    common = dict(required=False, label=p.label, help_text=help_text)
    if p.kind == "switch":
        return forms.BooleanField(initial=p.dest == "dry_run" or bool(p.default), **common)
    if p.file:
        return forms.FileField(**common)
    if p.secret:
        return forms.CharField(widget=forms.PasswordInput(render_value=False), **common)
    if p.many:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    if p.choices:
        blank = [("", f"(default: {p.default})" if p.default is not None else "")]
        widget = forms.Select(choices=blank + [(c, c) for c in p.choices])
        return forms.CharField(widget=widget, **common)
    shown = {"placeholder": str(p.default)} if p.default not in (None, "") else {}
    return forms.CharField(widget=forms.TextInput(attrs=shown), **common)


class RunForm(forms.Form):
    """``RunForm(job, data, files)``: valid once the job's parser accepts the command line
    it makes (``argv``); ``start(by)`` saves the uploads and records the start request."""

    def __init__(self, job, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        self.parameters = parameters.parameters(job)
        for p in self.parameters:
            self.fields[p.dest] = field_for(p)
        self.uploads = {}  # argument word -> (storage name, uploaded file)
        self.argv = None

    def clean(self):
        values = dict(self.cleaned_data)
        for p in self.parameters:
            uploaded = values.get(p.dest) if p.file else None
            if uploaded:
                try:
                    uploads.check_size(uploaded)
                except uploads.TooLarge as e:
                    self.add_error(p.dest, str(e))
                    return self.cleaned_data
                name = uploads.storage_name(uploaded.name)
                word = f"storage:{name}"
                self.uploads[word] = (name, uploaded)
                values[p.dest] = word
            elif p.file:
                values[p.dest] = None
        if self.errors:
            return self.cleaned_data
        try:
            argv = parameters.argv_for(self.parameters, values)
            parameters.check(self.job, argv)
        except parameters.Invalid as e:
            self.uploads = {}
            raise forms.ValidationError(str(e), code="refused") from None
        self.argv = argv
        return self.cleaned_data

    def start(self, by):
        """Save the uploads, then record the start (``control.request_start``); an upload
        saved for a start that is refused is deleted again."""
        argv, saved = list(self.argv), []
        try:
            for word, (name, uploaded) in self.uploads.items():
                stored = uploads.save(uploaded, name)
                saved.append(stored)
                argv = [stored if w == word else w for w in argv]
            return control.request_start(self.job.name, argv, by)
        except BaseException:
            for stored in saved:
                uploads.delete(stored)
            raise
