"""Reading a zip without trusting it: names that reach out of the folder are refused, and the bytes
are counted as they are written, whatever the headers claim. For a zip of texts (texts.py) and a
model's zip (share/archive.py)."""
import zipfile


def extract_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, budget: int) -> int:
    """Write the member `info` to `path`, counting the bytes as they are written, whatever the headers
    claim; returns what is left of `budget`, negative (and the copy cut short) once it is spent."""
    with zf.open(info) as src, open(path, "wb") as dst:
        while chunk := src.read(1 << 20):
            budget -= len(chunk)
            if budget < 0:
                return budget
            dst.write(chunk)
    return budget


def unsafe(name: str) -> bool:
    """Whether a member's name reaches out of the folder it is unpacked into."""
    return name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") or ":" in name
