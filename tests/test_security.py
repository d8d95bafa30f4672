"""What the running app exposes: its documented API only, and no files of the server."""
import json
import os
import urllib.error
import urllib.request

import pytest

from conftest import ROOT

PUBLIC = ["/upload_corpus", "/use_sample", "/estimate", "/train", "/stop", "/use_run", "/generate", "/suggest", "/score",
          "/originality", "/upload_model", "/push_to_hub", "/load_from_hub"]


def test_only_the_documented_endpoints_are_public(url):
    info = json.load(urllib.request.urlopen(url + "gradio_api/info"))
    assert sorted(info["named_endpoints"]) == sorted(PUBLIC) and not info["unnamed_endpoints"]


@pytest.mark.parametrize("path", ["/etc/passwd", os.path.join(ROOT, "app.py"), os.path.join(ROOT, "data", "anna.txt"),
                                  os.path.join(ROOT, "models", "anna", "model.safetensors"), "app.py", "../app.py"])
def test_the_server_serves_none_of_its_own_files(url, path):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url + "gradio_api/file=" + path)
    assert e.value.code in (403, 404)
