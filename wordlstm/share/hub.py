"""Share models on the Hugging Face Hub, and deploy this app as a Space.

Thin wrappers over huggingface_hub (Checkpoint's ModelHubMixin methods, HfApi)
that turn its exceptions into UserErrors a person can act on: a malformed repo
id, a missing or refused token, a repo without a model, a Hub that is down.
A token is passed through for one call: never stored, logged or written.
"""
import contextlib
import logging
import os
import socket
from urllib.parse import urlsplit

from huggingface_hub import HfApi, constants, get_token
from huggingface_hub.errors import (HFValidationError, HfHubHTTPError, LocalEntryNotFoundError,
                                   RepositoryNotFoundError)
from huggingface_hub.utils import validate_repo_id

from ..errors import UserError
from .checkpoint import Checkpoint, load_checkpoint

try:  # the HTTP client under huggingface_hub: httpx2 since 2.x, httpx in 1.x
    from httpx2 import TransportError
except ImportError:
    from httpx import TransportError


def no_token(doing: str) -> str:
    return (f"{doing} needs a Hugging Face token with write access: pass --token, set HF_TOKEN, or run "
            f"`hf auth login` (tokens: https://huggingface.co/settings/tokens)")


# What a Space needs of this repository: the app, the package, the bundled
# default model and sample text. Tests, CI, caches and local runs stay behind.
SPACE_IGNORE = [".git/*", ".ci/*", ".github/*", "tests/*", "**/__pycache__/*", "*.pyc", ".venv/*", "venv/*",
                "*.egg-info/*", ".pytest_cache/*", ".hypothesis/*", ".gradio/*", "runs/*", "build/*", "dist/*",
                "*.zip", ".env", "**/.DS_Store"]


def is_local(source) -> bool:
    """A folder on disk, or a name that reads as a path, as opposed to a Hub repo id: one that starts with
    `.`, `/` or `~`, or whose first part is a folder here (`runs/nope` is a missing run, not a Hub user's)."""
    s = os.fspath(source)
    return (os.path.isdir(s) or s.startswith((".", "/", "~")) or s.count("/") != 1
            or os.path.isdir(s.split("/")[0]))


def reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub's host takes a connection. huggingface_hub retries a refused one five times over
    23 s, with a warning each; this asks once. Behind a proxy only the proxy knows: assume yes."""
    if constants.HF_HUB_OFFLINE or any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
                                                                    "http_proxy", "ALL_PROXY", "all_proxy")):
        return not constants.HF_HUB_OFFLINE
    url = urlsplit(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def quiet():
    """huggingface_hub's retry warnings off: what went wrong is said once, in the UserError."""
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hub_logger.setLevel(level)


@contextlib.contextmanager
def hub_errors(repo_id: str, doing: str):
    """Re-raise huggingface_hub's errors as one-line UserErrors about `repo_id`, its retries' warnings unsaid."""
    try:
        with quiet():
            yield
    except UserError:
        raise
    except HFValidationError:
        raise UserError(f"{repo_id!r} is not a valid Hub repo id; use OWNER/NAME with letters, digits, "
                        f"'-', '_' or '.' (e.g. alice/anna-lstm)") from None
    except RepositoryNotFoundError:
        raise UserError(f"{repo_id} is neither a folder here nor a repo on the Hub (or it is private and the "
                        f"token cannot read it)") from None
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else None
        if status == 401:
            raise UserError(f"the Hub refused the token while {doing} (401); check that it is a valid token "
                            f"(https://huggingface.co/settings/tokens)") from None
        if status == 403:
            raise UserError(f"the token may not write to {repo_id} (403); use a token with write access "
                            f"to that namespace") from None
        if status is not None and status >= 500:
            raise UserError(f"the Hub answered {status} while {doing}; try again later (nothing was changed "
                            f"on this machine)") from None
        raise UserError(f"the Hub answered {status} while {doing}: {str(e).splitlines()[0][:200]}") from None
    except LocalEntryNotFoundError:  # what a download raises when the Hub fails and nothing is cached
        raise UserError(f"could not download {repo_id}: the Hub at {constants.ENDPOINT} is unreachable or failing, "
                        f"and there is no cached copy; try again later") from None
    except (OSError, TransportError) as e:  # connection refused, DNS, timeouts; offline mode
        raise UserError(f"cannot reach the Hub at {constants.ENDPOINT} while {doing} ({type(e).__name__}); "
                        f"check the connection and try again (nothing was changed on this machine)") from None


def check_repo_id(repo_id: str) -> str:
    repo_id = (repo_id or "").strip()
    with hub_errors(repo_id, "checking the repo id"):
        if repo_id.count("/") != 1:
            raise HFValidationError("need OWNER/NAME")
        validate_repo_id(repo_id)
    return repo_id


def write_token(token: str | None, doing: str) -> str:
    """The token given, else HF_TOKEN, else the saved login; a UserError if none."""
    token = token or get_token()
    if not token:
        raise UserError(no_token(doing))
    return token


def load_model(source, device: str = "cpu", token: str | None = None, revision: str | None = None,
               hub_only: bool = False) -> Checkpoint:
    """A checkpoint folder, or a Hub repo id (downloaded once, then cached).
    hub_only: never read a local folder (for servers, where the name comes from a stranger)."""
    if not hub_only and is_local(source):
        return load_checkpoint(source, device)
    repo_id = check_repo_id(source)
    cached_only = not reachable()  # then a cached copy, or one line at once
    with hub_errors(repo_id, f"downloading {repo_id}"):
        if hub_only:  # from_pretrained would read a local folder of that name first
            return load_checkpoint(Checkpoint.download(repo_id, revision=revision, token=token or None,
                                                       local_files_only=cached_only), device)
        return Checkpoint.from_pretrained(repo_id, token=token or None, revision=revision, device=device,
                                          local_files_only=cached_only)


def push(checkpoint: Checkpoint, repo_id: str, private: bool = False, token: str | None = None,
         corpus_path: str | None = None, corpus_ids=None) -> str:
    """Create (or update) the model repo and upload the checkpoint folder with its card.
    Returns the repo's URL. The corpus text is uploaded only if `corpus_path` is given;
    its `corpus_ids` (never uploaded) let the card say how much of each sample is new."""
    repo_id = check_repo_id(repo_id)
    token = write_token(token, "pushing")
    with hub_errors(repo_id, f"pushing to {repo_id}"):
        if not reachable():  # at once, rather than after the client's retries
            raise ConnectionRefusedError
        checkpoint.push_to_hub(repo_id, private=private, token=token, commit_message="Upload wordlstm model",
                               model_card_kwargs={"repo_id": repo_id, "corpus_path": corpus_path,
                                                  "corpus_ids": corpus_ids})
    return f"{constants.ENDPOINT}/{repo_id}"


def deploy_space(space_id: str, folder: str, private: bool = False, token: str | None = None,
                 hardware: str | None = None) -> str:
    """Create (or update) a Gradio Space from `folder` (this repository). Returns its URL."""
    space_id = check_repo_id(space_id)
    token = write_token(token, "deploying")
    api = HfApi(token=token)
    with hub_errors(space_id, f"deploying {space_id}"):
        if not reachable():  # at once, rather than after the client's retries
            raise ConnectionRefusedError
        api.create_repo(space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True,
                        space_hardware=hardware)
        api.upload_folder(repo_id=space_id, repo_type="space", folder_path=folder, ignore_patterns=SPACE_IGNORE,
                          commit_message="Deploy wordlstm")
    return f"{constants.ENDPOINT}/spaces/{space_id}"
