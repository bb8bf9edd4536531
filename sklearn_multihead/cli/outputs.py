"""Files the command writes: checked before the work, written atomically.

Inside:

- ``check_output_file`` / ``check_output_folder``: refuse, before any long
  work starts, an output that would overwrite an existing file without
  ``--force``, overwrite one of the command's own inputs (even with
  ``--force``), or cannot be written (a missing or read-only folder, a
  folder where a file is expected).
- ``write_file``: write a file to a temporary name in its folder, then rename
  it into place: a failure (a full disk) leaves the old file as it was, and
  a symlink at the path is replaced, never written through.
- ``spreadsheet_safe``: a table's text cells and column names that a
  spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return: the OWASP rule) prefixed with ``'``, so
  that a label from a shared model folder cannot become a live formula in
  the CSV files the command writes.
- ``replace_folder``: the same for a whole folder (a model folder): written
  beside it under a temporary name, then swapped in; the old folder is
  removed only once the new one is in place.
"""

import os
import shutil
import tempfile
from pathlib import Path

from sklearn_multihead.cli.tables import UsageError


def _writable_folder(folder, what):
    if not folder.is_dir():
        raise UsageError(f"{what}: the folder {str(folder)!r} does not exist.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{what}: the folder {str(folder)!r} is not writable.")


def check_output_file(path, option, inputs=(), force=False):
    """Refuse ``path`` as an output now, rather than after the work."""
    path = Path(path)
    what = f"{option} {str(path)!r}"
    for source in inputs:
        if Path(source).exists() and path.exists() and path.samefile(source):
            raise UsageError(f"{what} is an input of this command; write elsewhere.")
    if path.is_dir():
        raise UsageError(f"{what} is a folder; give a file name.")
    if path.exists() and not force:
        raise UsageError(
            f"{what} exists. Add --force to replace it, or give another name."
        )
    _writable_folder(path.absolute().parent, what)


def check_output_folder(folder, option, names, inputs=(), force=False):
    """Refuse ``folder`` as the home of the files ``names`` now, rather than
    after the work: none of them may exist without ``force``."""
    folder = Path(folder)
    what = f"{option} {str(folder)!r}"
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{what} is a file; give a folder.")
    if folder.is_dir():
        for name in names:
            check_output_file(folder / name, option, inputs, force)
        _writable_folder(folder, what)
    else:
        _writable_folder(folder.absolute().parent, what)


def _default_mode(folder=False):
    """The permissions a plain ``open`` / ``mkdir`` would give (temporary
    files and folders are created private: 0600 / 0700)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if folder else 0o666) & ~umask


def _could_not_write(path, exc):
    return UsageError(
        f"Could not write {str(path)!r} ({exc.strerror or exc}); nothing there was "
        "changed."
    )


def write_file(path, write):
    """``write(temporary_path)``, then the temporary file renamed to ``path``."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
        os.close(fd)
    except OSError as exc:
        raise _could_not_write(path, exc) from None
    try:
        write(Path(tmp))
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _could_not_write(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def replace_folder(folder, write):
    """``write(temporary_folder)``, then that folder swapped in at ``folder``
    (an existing one is moved aside first and removed after)."""
    folder = Path(folder)
    parent = folder.absolute().parent
    try:
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=parent)
        )
    except OSError as exc:
        raise _could_not_write(folder, exc) from None
    old = None
    try:
        write(tmp)
        os.chmod(tmp, _default_mode(folder=True))
        if folder.is_symlink() or folder.exists():
            old = tmp.with_suffix(".old")  # unique, as the temporary name is
            os.rename(folder, old)
        os.rename(tmp, folder)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not (folder.exists() or folder.is_symlink()):
            os.rename(old, folder)  # put the previous model back
        if isinstance(exc, OSError):
            raise _could_not_write(folder, exc) from None
        raise
    if old is not None:
        if old.is_symlink():
            old.unlink()
        else:
            shutil.rmtree(old, ignore_errors=True)
    return folder


#: what a spreadsheet reads as the start of a formula (OWASP, CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _defused(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe(frame):
    """``frame`` with its text cells and column names defused (a copy when
    anything changed): ``=cmd|' /C calc'!A0`` is written ``'=cmd|...``.
    Numbers stay numbers: a negative number is no formula."""
    columns = [_defused(c) for c in frame.columns]
    out = None
    for j in range(frame.shape[1]):
        values = frame.iloc[:, j]
        if values.dtype.kind not in "OSUT" and str(values.dtype) not in (
            "string",
            "category",
        ):
            continue
        cells = values.astype(object)
        defused = cells.map(_defused)
        if not defused.equals(cells):
            if out is None:
                out = frame.copy()
            out.isetitem(j, defused)
    if columns != list(frame.columns):
        out = (frame if out is None else out).set_axis(columns, axis=1)
    return frame if out is None else out
