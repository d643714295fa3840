"""Progress bars: a notebook widget where ipywidgets exists (Colab), plain text otherwise."""
from __future__ import annotations


def progress_bar(**kwargs):
    """A tqdm bar. tqdm.auto without ipywidgets would print a warning into every notebook."""
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm import tqdm
    return tqdm(**kwargs)
