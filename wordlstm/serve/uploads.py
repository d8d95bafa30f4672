"""The files a web request names, for a server such as the app's.

A request names its files by path, and a hand-written request can name any path or a URL.
So a server takes only what its upload route wrote into its upload folder, and moves it into
the session's own folder the first time it is used: another session that names the same path
finds nothing, and nothing outside the upload is ever read.
"""
import os
import shutil
import tempfile

from ..errors import UserError

NOT_UPLOADED = ("{} was not uploaded in this session; upload the file through the page, "
                "or with gradio_client's handle_file()")


def inside(path: str, folder: str) -> bool:
    real, folder = os.path.realpath(path), os.path.realpath(folder)  # symlinks followed, ".." resolved
    return os.path.commonpath([real, folder]) == folder


def named_path(value, upload_root: str) -> str | None:
    """The path a request names for a file input ({"path": ...} or a string), if it is one the upload
    route could have written (inside `upload_root`); else UserError. None for no file."""
    path = value.get("path") if isinstance(value, dict) else value
    if path is None:
        return None
    name = "this file" if not isinstance(path, str) or "://" in path else os.path.basename(path)
    if not isinstance(path, str) or "://" in path or not inside(path, upload_root):
        raise UserError(NOT_UPLOADED.format(name))
    return path


class Uploads:
    """A session's uploaded files: the path the upload route gave each -> the session's own copy."""

    def __init__(self):
        self.copies: dict[str, str] = {}

    def take(self, value, upload_root: str, folder: str, suffix: str | tuple[str, ...]) -> str:
        """The session's own copy (in `folder`) of the uploaded file a request names, or UserError
        before anything is opened. suffix: the file's ending, or the endings it may have."""
        if value in self.copies:
            return self.copies[value]
        path = named_path(value, upload_root)
        if path is None or not os.path.isfile(path):  # not uploaded, or taken by the session that did
            raise UserError(NOT_UPLOADED.format(os.path.basename(path or "the file")))
        endings = [suffix] if isinstance(suffix, str) else list(suffix)
        if not path.lower().endswith(tuple(endings)):
            raise UserError(f"{os.path.basename(path)}: upload a {' or '.join(endings)} file")
        own = os.path.join(tempfile.mkdtemp(prefix="upload-", dir=folder), os.path.basename(path))
        try:
            shutil.move(os.path.realpath(path), own)  # a move, not a copy: the upload is this session's alone
        except OSError:  # another session took it a moment ago
            raise UserError(NOT_UPLOADED.format(os.path.basename(path))) from None
        self.copies[path] = own
        return own
