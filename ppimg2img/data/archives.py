"""Install a published dataset archive: cached, resumable download, safe extraction, folder check.
Shared by the CycleGAN (zip) and pix2pix (tar.gz) dataset downloaders."""
import os
import shutil

from ..utils.download import DownloadError, download, extract_tar, extract_zip, get_cache_dir


def missing_folders(path, expected):
    """The expected sub-folders that ``path`` lacks; with none expected, it must not be empty."""
    if not expected:
        return [] if os.listdir(path) else ["(any file)"]
    return [d for d in expected if not os.path.isdir(os.path.join(path, d))]


def install_dataset(name, url, root, expected, progress=True):
    """Download ``url`` (a .zip or .tar.gz) into ``get_cache_dir()/datasets``, extract it to
    ``<root>/<name>`` (atomically, refusing unsafe members), check that the ``expected``
    sub-folders exist, delete the archive, and return the folder. An already complete folder is
    returned as is; an incomplete one raises FileExistsError instead of being overwritten."""
    target = os.path.join(os.fspath(root), name)
    if os.path.isdir(target):
        missing = missing_folders(target, expected)
        if missing:
            raise FileExistsError(f"{target} exists but lacks {', '.join(missing)} (expected "
                                  f"{', '.join(expected)}). Delete it and run again to re-download.")
        return target
    is_tar = url.endswith((".tar.gz", ".tgz", ".tar"))
    archive = os.path.join(get_cache_dir(), "datasets", name + (".tar.gz" if is_tar else ".zip"))
    download(url, archive, progress=progress)
    try:
        (extract_tar if is_tar else extract_zip)(archive, target, strip_top_dir=True)
    except ValueError as err:  # corrupt or unsafe archive: do not keep it in the cache
        os.remove(archive)
        raise DownloadError(f"The archive downloaded from {url} is unusable and was removed from the cache "
                            f"(the next run downloads it again): {err}") from None
    missing = missing_folders(target, expected)
    if missing:
        shutil.rmtree(target)
        os.remove(archive)
        raise DownloadError(f"The archive downloaded from {url} does not contain the expected folders "
                            f"{', '.join(missing)} (expected {', '.join(expected)} in {name}/).")
    os.remove(archive)
    return target
