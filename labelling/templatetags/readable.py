"""Numbers as people read them on the staff pages: durations, a model version's timings, counts
with their noun ("1 vote", "2 votes"). `{% load readable %}`."""

from django import template

register = template.Library()

# A version's timings (labelling/loop/tasks.py) in the order training and a round spend them.
TIMING_NAMES = {
    "crowd_seconds": "weighing volunteers",
    "load_seconds": "loading images",
    "train_seconds": "training",
    "score_seconds": "scoring the pool",
    "select_seconds": "picking the round",
}


@register.filter
def duration(seconds) -> str:
    """0.42 -> "0.4 s", 83 -> "1 min 23 s", 7260 -> "2 h 1 min"."""
    if seconds is None or seconds == "":
        return "—"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@register.filter
def counted(number, noun: str) -> str:
    """`{{ n|counted:"vote" }}`: "1 vote", "3 votes"; `"subject,subjects"` for an irregular plural."""
    singular, _, plural = noun.partition(",")
    number = 0 if number in (None, "") else number
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


@register.filter
def timings_text(timings: dict | None) -> list[str]:
    """A version's timings as phrases: ["training 12 s (8 epochs, warm start)", ...]."""
    timings = timings or {}
    phrases = []
    for key, name in TIMING_NAMES.items():
        if key not in timings:
            continue
        phrase = f"{name} {duration(timings[key])}"
        if key == "train_seconds":
            notes = [counted(timings["epochs"], "epoch")] if "epochs" in timings else []
            if "warm_start" in timings:
                notes.append("warm start" if timings["warm_start"] else "from scratch")
            phrase += f" ({', '.join(notes)})" if notes else ""
        if key == "score_seconds" and timings.get("score_chunks"):
            phrase += f" (in {counted(timings['score_chunks'], 'chunk')})"
        phrases.append(phrase)
    if timings.get("select_error"):
        phrases.append(f"the round failed: {timings['select_error']}")
    return phrases


@register.filter
def survey_id(metadata: dict | None) -> str:
    """A subject's survey ID (the manifest's ID column), "" without one."""
    from labelling.catalogue.manifest import survey_id as survey_id_of

    return survey_id_of(metadata) or ""
