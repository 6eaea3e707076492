"""What strict, bounded body decoding costs, and what a YAML bomb costs now.

Run from the repository root::

    .venv/bin/python bench/bodies.py [--quick]

Side by side in one process:

- an ordinary manifest (a Cluster with a few hundred fields of Helm values), decoded N times by the API's decoders
  (``edgeplatform.resources.documents``) and by the plain ``json.loads`` / ``yaml.safe_load`` they replace: the
  ratio is the price of the checks;
- a "billion laughs" Cluster (L levels of ten aliases under ``spec.config``) through the API's YAML decoder, and
  through the earlier path (``yaml.safe_load``, then the JSON encoding every write does): time and peak memory.

The last line is one JSON object with the figures.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def manifest() -> dict:
    """An ordinary Cluster manifest with nested Helm values."""
    values = {f"component{i}": {"enabled": i % 2 == 0, "replicas": i, "image": {"repository": f"r/c{i}", "tag": "1.2"},
                                "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                                "tolerations": [{"key": "edge", "operator": "Exists"}]} for i in range(40)}
    return {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": "edge-bj-01", "labels": {"cluster.theriseunion.io/role": "member", "region": "bj"},
                         "annotations": {"theriseunion.io/description": "Beijing edge"}},
            "spec": {"type": "virtual", "distribution": "k3s", "version": "v1.30.2", "config": values}}


def bomb(levels: int) -> str:
    """L levels of ten aliases each."""
    lines = ['    l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"    l{n}: &l{n} [" + ",".join([f"*l{n - 1}"] * 10) + "]" for n in range(1, levels + 1)]
    return "apiVersion: scope.theriseunion.io/v1alpha1\nkind: Cluster\nmetadata: {name: lol}\nspec:\n  config:\n" + \
        "\n".join(lines) + "\n"


def timed(fn, repeat: int) -> float:
    """Median seconds of one call."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measured(fn) -> tuple[float, int, str]:
    """Seconds, peak traced bytes and outcome of one call."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        fn()
        outcome = "accepted"
    except Exception as exc:  # the decoder's refusal is the expected outcome
        outcome = f"refused: {getattr(exc, 'problem', exc)}"
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak, outcome


def main() -> int:
    """Measure and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, a smaller bomb for the old path")
    args = parser.parse_args()
    repeat, levels_old = (50, 5) if args.quick else (300, 6)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "edgeplatform.settings")
    import django
    import yaml

    django.setup()
    from edgeplatform.resources import documents

    body = manifest()
    as_json, as_yaml = json.dumps(body).encode(), yaml.safe_dump(body).encode()
    rows = {
        "json": (timed(lambda: documents.decode_json(io.BytesIO(as_json)), repeat),
                 timed(lambda: json.loads(as_json), repeat)),
        "yaml": (timed(lambda: documents.decode_yaml(io.BytesIO(as_yaml)), max(5, repeat // 10)),
                 timed(lambda: yaml.safe_load(as_yaml), max(5, repeat // 10))),
    }
    print(f"ordinary manifest: {len(as_json)} bytes as JSON, {len(as_yaml)} as YAML")
    print(f"{'format':<8}{'strict ms':>12}{'plain ms':>12}{'ratio':>8}")
    for name, (strict, plain) in rows.items():
        print(f"{name:<8}{strict * 1000:>12.3f}{plain * 1000:>12.3f}{strict / plain:>8.2f}")

    results = {}
    print(f"\n{'YAML bomb':<34}{'bytes':>7}{'ms':>11}{'peak MB':>10}  outcome")
    for label, levels, fn in (
        ("strict decoder, 6 levels", 6, lambda text: documents.decode_yaml(io.BytesIO(text.encode()))),
        ("strict decoder, 7 levels", 7, lambda text: documents.decode_yaml(io.BytesIO(text.encode()))),
        (f"safe_load + JSON, {levels_old} levels", levels_old, lambda text: json.dumps(yaml.safe_load(text))),
    ):
        text = bomb(levels)
        elapsed, peak, outcome = measured(lambda fn=fn, text=text: fn(text))
        results[label] = (elapsed, peak)
        print(f"{label:<34}{len(text):>7}{elapsed * 1000:>11.1f}{peak / 1e6:>10.1f}  {outcome[:60]}")
    strict6, old = results["strict decoder, 6 levels"], results[f"safe_load + JSON, {levels_old} levels"]
    print(json.dumps({
        "json_strict_ms": round(rows["json"][0] * 1000, 4), "json_plain_ms": round(rows["json"][1] * 1000, 4),
        "json_ratio": round(rows["json"][0] / rows["json"][1], 2),
        "yaml_strict_ms": round(rows["yaml"][0] * 1000, 3), "yaml_plain_ms": round(rows["yaml"][1] * 1000, 3),
        "yaml_ratio": round(rows["yaml"][0] / rows["yaml"][1], 2),
        "bomb6_ms": round(strict6[0] * 1000, 2), "bomb6_peak_mb": round(strict6[1] / 1e6, 2),
        "bomb7_ms": round(results["strict decoder, 7 levels"][0] * 1000, 2),
        "bomb7_peak_mb": round(results["strict decoder, 7 levels"][1] / 1e6, 2),
        "old_path_levels": levels_old, "old_path_ms": round(old[0] * 1000, 1),
        "old_path_peak_mb": round(old[1] / 1e6, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
