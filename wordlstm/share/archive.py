"""A checkpoint folder as one .zip, for downloading and uploading a model.

Unpacking trusts nothing in the zip: only the checkpoint's files are taken,
names with a path in them ("../x", "/etc/x") are refused, and the bytes written
are counted as they are written, so a zip bomb stops at the cap whatever its
headers claim. Everything lands in a fresh temporary folder.
"""
import os
import shutil
import tempfile
import zipfile

from ..errors import UserError
from ..text.zips import extract_capped, unsafe
from .checkpoint import CARD_FILE, REQUIRED, Checkpoint, load_checkpoint

OPTIONAL = (CARD_FILE,)
MAX_ZIP_BYTES = 100 * 2**20
MAX_UNPACKED_BYTES = 200 * 2**20


def pack(checkpoint_dir, zip_path) -> str:
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in REQUIRED + OPTIONAL:
            if name in REQUIRED or os.path.isfile(os.path.join(checkpoint_dir, name)):
                zf.write(os.path.join(checkpoint_dir, name), arcname=name)
    return os.fspath(zip_path)


def unpack(zip_path, parent: str | None = None) -> Checkpoint:
    """Check, extract into a fresh folder under `parent`, and load. Raises UserError."""
    size = os.path.getsize(zip_path)
    if size > MAX_ZIP_BYTES:
        raise UserError(f"the zip is {size / 2**20:.0f} MB; the limit is {MAX_ZIP_BYTES / 2**20:.0f} MB")
    if not zipfile.is_zipfile(zip_path):
        raise UserError("this file is not a zip; upload the .zip downloaded from this app")
    folder = tempfile.mkdtemp(prefix="model-", dir=parent)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            members = _checked_members(zf)
            budget = MAX_UNPACKED_BYTES
            for name, info in members.items():
                budget = extract_capped(zf, info, os.path.join(folder, name), budget)
                if budget < 0:
                    raise UserError(f"the zip unpacks to more than {MAX_UNPACKED_BYTES / 2**20:.0f} MB; refused")
        return load_checkpoint(folder)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError) as e:
        shutil.rmtree(folder, ignore_errors=True)
        raise UserError(f"the zip is damaged ({e}); download the model again") from None
    except UserError:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _checked_members(zf: zipfile.ZipFile) -> dict:
    members = {}
    for info in zf.infolist():
        name = info.filename
        if info.is_dir():
            continue
        parts = name.replace("\\", "/").split("/")
        if unsafe(name):
            raise UserError(f"the zip has an unsafe entry {name!r}; refused")
        base = parts[-1]
        if base not in REQUIRED + OPTIONAL or len(parts) > 2:  # the files, at the top or in one folder
            raise UserError(f"the zip holds {name!r}; a model zip holds only {', '.join(REQUIRED + OPTIONAL)}")
        if base in members:
            raise UserError(f"the zip holds {base} twice; refused")
        members[base] = info
    missing = [n for n in REQUIRED if n not in members]
    if missing:
        raise UserError(f"the zip lacks {', '.join(missing)}; upload the .zip downloaded from this app")
    return members
