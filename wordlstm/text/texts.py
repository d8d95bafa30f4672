"""The texts a corpus is read from: one .txt file, several, a folder of them, or a .zip of them.

Each file is a document: data.split gives each its own validation tail, and no window spans two.
The limits of one text hold for all of them together. A zip is trusted as little as a model zip
(zips.py): no paths out of it, no links, no zip inside, the bytes counted as they are written
(whatever its headers claim), everything unpacked into a fresh temporary folder, and that folder
removed once the texts are read.
"""
import codecs
import os
import stat
import tempfile
import zipfile

from ..errors import UserError
from .zips import extract_capped, unsafe

MAX_CORPUS_BYTES = 200 * 2**20  # all the files together
MAX_FILES = 1000
_SKIPPED = ("__MACOSX/", ".")  # what a Mac's zip adds beside the files; hidden files


def read_text(path, max_bytes: int = MAX_CORPUS_BYTES) -> str:
    """Read a UTF-8 text file (a BOM is allowed, CRLF is fine) or raise UserError."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise UserError(f"{path}: no such file; give the path of a .txt file")
    if os.path.isdir(path):
        raise UserError(f"{path} is a folder; give the path of a .txt file")
    size = os.path.getsize(path)
    if size > max_bytes:
        raise UserError(f"{path} is {size / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB")
    with open(path, "rb") as f:
        return decode_bytes(f.read(), name=path)


def decode_bytes(data: bytes, name: str = "the corpus") -> str:
    """UTF-8 (with or without BOM) only; anything else is a clear error, not mojibake."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UserError(f"{name} is UTF-16; save it as UTF-8 and try again")
    if b"\x00" in data:
        raise UserError(f"{name} looks binary (it contains NUL bytes); give a plain text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{name} is not valid UTF-8 (byte {e.start}); save it as UTF-8 and try again") from None
    if not text.strip():
        raise UserError(f"{name} is empty or only whitespace; give a text with some words")
    return text


def sources_of(sources) -> list[str]:
    """One path or several, as a list of strings."""
    return [os.fspath(sources)] if isinstance(sources, (str, os.PathLike)) else [os.fspath(s) for s in sources]


def read_texts(sources, max_bytes: int = MAX_CORPUS_BYTES, parent: str | None = None) -> list[tuple[str, str]]:
    """(file name, text) for each document of `sources`: .txt files, folders (their .txt files, by name)
    and .zip files (their .txt files, unpacked under `parent`), in the order given. UserError names
    the file that is missing, too large, empty, binary or not UTF-8."""
    sources = sources_of(sources)
    if not sources:
        raise UserError("give a .txt file, several, a folder of them or a .zip of them")
    texts, left = [], max_bytes
    for source in sources:
        if source.lower().endswith(".zip") and os.path.isfile(source):
            found = _zip_texts(source, left, parent)
            left -= sum(len(text.encode("utf-8")) for _, text in found)
        else:
            found = []
            for name, path in _files(source):
                size = os.path.getsize(path)
                if size > left:
                    raise UserError(f"{path} takes the texts past {max_bytes / 2**20:.0f} MB, the limit for all "
                                    "of them together; give fewer or smaller files")
                found.append((name, read_text(path, max_bytes)))
                left -= size
        texts += found
        if len(texts) > MAX_FILES:
            raise UserError(f"that is more than {MAX_FILES} files; join some of them, or give fewer")
    return texts


def size_of(sources) -> int:
    """About the bytes of text `sources` hold, before any is read: the files' sizes, a folder's .txt files',
    and what a zip's headers claim (reading counts what it really holds); at most MAX_CORPUS_BYTES."""
    total = 0
    for source in sources_of(sources):
        if source.lower().endswith(".zip") and zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as zf:
                total += max(os.path.getsize(source), sum(i.file_size for i in zf.infolist()))
        elif os.path.exists(source):
            total += sum(os.path.getsize(path) for _, path in _files(source))
    return min(total, MAX_CORPUS_BYTES)


def _files(source: str) -> list[tuple[str, str]]:
    """(file name, path) for a .txt file, or for each .txt file of a folder, by name."""
    if not os.path.exists(source):
        raise UserError(f"{source}: no such file or folder; give .txt files, a folder of them or a .zip")
    if not os.path.isdir(source):
        return [(os.path.basename(source), source)]
    names = sorted(n for n in os.listdir(source) if n.lower().endswith(".txt") and not n.startswith(".")
                   and os.path.isfile(os.path.join(source, n)))
    if not names:
        raise UserError(f"the folder {source} holds no .txt file; give a folder of .txt files")
    return [(name, os.path.join(source, name)) for name in names]


def _zip_texts(path: str, max_bytes: int, parent: str | None) -> list[tuple[str, str]]:
    """The .txt files of the zip at `path`, checked, unpacked into a fresh folder under `parent`, read,
    and the folder removed."""
    if not zipfile.is_zipfile(path):
        raise UserError(f"{os.path.basename(path)} is not a zip; give a .zip of .txt files")
    with tempfile.TemporaryDirectory(prefix="texts-", dir=parent) as folder:
        try:
            with zipfile.ZipFile(path) as zf:
                members = _checked_members(zf, os.path.basename(path))
                written = []
                for name, info in members:
                    target = os.path.join(folder, f"{len(written):05d}.txt")  # the member's name never a path
                    max_bytes = extract_capped(zf, info, target, max_bytes)
                    if max_bytes < 0:
                        raise UserError(f"{os.path.basename(path)} unpacks to more than the limit for all "
                                        "the texts together; give fewer or smaller files")
                    written.append((name, target))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError) as e:
            raise UserError(f"{os.path.basename(path)} is damaged ({e}); zip the texts again") from None
        texts = []
        for name, target in written:
            with open(target, "rb") as f:
                texts.append((name, decode_bytes(f.read(), name=f"{name} (in {os.path.basename(path)})")))
        return texts


def _checked_members(zf: zipfile.ZipFile, zip_name: str) -> list[tuple[str, zipfile.ZipInfo]]:
    """(file name, entry) for each .txt file of a corpus zip, by name; UserError for anything else in it."""
    members, seen = [], set()
    for info in zf.infolist():
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if info.is_dir() or name.startswith(_SKIPPED[0]) or parts[-1].startswith(_SKIPPED[1]):
            continue
        if unsafe(name):
            raise UserError(f"{zip_name} has an unsafe entry {name!r}; refused")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UserError(f"{zip_name} holds a link, {name!r}; zip the files themselves")
        if len(parts) > 2:  # the files, at the top or in the one folder that zipping a folder gives
            raise UserError(f"{zip_name} holds {name!r} in a folder inside a folder; zip the .txt files alone")
        if parts[-1].lower().endswith(".zip"):
            raise UserError(f"{zip_name} holds another zip, {name!r}; zip the .txt files themselves")
        if not parts[-1].lower().endswith(".txt"):
            raise UserError(f"{zip_name} holds {name!r}, which is not a .txt file; a corpus zip holds only .txt files")
        if parts[-1] in seen:
            raise UserError(f"{zip_name} holds {parts[-1]} twice; give each file its own name")
        seen.add(parts[-1])
        members.append((parts[-1], info))
    if not members:
        raise UserError(f"{zip_name} holds no .txt file; give a .zip of .txt files")
    if len(members) > MAX_FILES:
        raise UserError(f"{zip_name} holds more than {MAX_FILES} files; join some of them, or give fewer")
    return sorted(members, key=lambda m: m[0])
