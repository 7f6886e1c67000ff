"""The summary of a ``benchmarks/gpu.sh`` run: ``summary.md`` (markdown tables) and ``summary.json``.

    python benchmarks/gpu_summary.py OUTPUT_FOLDER STAGES_TSV ENV_JSON

Reads the stages' statuses (``STAGES_TSV``: name, status, exit code, seconds, note; one line each), the
environment ``gpu.sh`` chose (``ENV_JSON``) and the JSON files the stages wrote into OUTPUT_FOLDER
(``hessian-cuda.json``, ``hessian-cpu.json``, ``train.json``, ``cifar.json``); any of them may be
missing or partial (a stage skipped, stopped at its time limit). Standard library only.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

FAILED = ("failed", "timed out", "not run")


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_stages(path: Path) -> list[dict]:
    stages = []
    for line in path.read_text().splitlines():
        name, status, rc, seconds, note = (line.split("\t") + [""] * 5)[:5]
        stages.append({"stage": name, "status": status, "exit_code": int(rc or 0), "seconds": int(seconds or 0),
                       "note": note})
    return stages


def num(x, fmt: str = ".3f", none: str = "—") -> str:
    return none if x is None else format(x, fmt)


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|",
            *("| " + " | ".join(r) + " |" for r in rows), ""]


def hessian_section(gpu, cpu) -> list[str]:
    gpu_rows = (gpu or {}).get("tables", {}).get("hessian", [])
    cpu_rows = {(r["model"], r["depth"]): r for r in (cpu or {}).get("tables", {}).get("hessian", [])}
    if not gpu_rows and not cpu_rows:
        return []
    out = [f"## Exact Hessian + spectrum: CUDA against the CPU (float64, seconds, best of {(gpu or cpu)['repeat']})", "",
           "*H*: our closed-form Hessian; *H+eig*: it, `eigvalsh` and the summary; *H/eig*: building it as a "
           "fraction of `eigvalsh` on the same device; the CPU columns are from the same run.", ""]
    keys = [(r["model"], r["depth"]) for r in gpu_rows] or list(cpu_rows)
    rows = []
    for key in keys:
        g = next((r for r in gpu_rows if (r["model"], r["depth"]) == key), None)
        c = cpu_rows.get(key)
        p = (g or c)["P"]
        rows.append([key[0], str(key[1]), str(p), num(g and g["ours_H"]), num(g and g["eigvalsh"]),
                     num(g and g["ours_H_eig"]), num(g and g["H_over_eig"], ".2f"), num(c and c["ours_H_eig"]),
                     num(c and c["eigvalsh"]),
                     num(c["ours_H_eig"] / g["ours_H_eig"] if c and g else None, ".1f") + ("×" if c and g else "")])
    out += table(["model", "D", "P", "CUDA H", "CUDA eigvalsh", "CUDA H+eig", "H/eig", "CPU H+eig", "CPU eigvalsh",
                  "CPU/CUDA"], rows)
    if gpu_rows:
        big = max(gpu_rows, key=lambda r: r["P"])
        out += [f"Largest P on CUDA within the budget ({gpu.get('budget')} s per model): {big['P']:,} "
                f"({big['model']}, D = {big['depth']}: H + spectrum {big['ours_H_eig']:.2f} s).", ""]
    for name, title in (("training", "Table 2 on CUDA: a 32-rate grid (epochs/s)"),
                        ("gradient", "Table 3 on CUDA: one vmapped gradient of B nets (s)")):
        rows = (gpu or {}).get("tables", {}).get(name, [])
        if rows:
            out += [f"### {title}", ""] + table(list(rows[0]), [[num(v, ".4g") if isinstance(v, float) else str(v)
                                                               for v in r.values()] for r in rows])
    return out


def train_section(t) -> list[str]:
    if not t or not t.get("jobs"):
        return []
    out = [f"## The Figure 7/8 rate grid: CUDA against the CPU ({t['rates']} rates, {t['epochs']} epochs, float64)", "",
           f"Epochs per second of the whole grid; *gap*: the largest relative difference of the final losses of "
           f"the runs that did not diverge (agreement: ≤ {t['agree']:g} and the same divergences).", ""]
    rows = [[f"Fig {j['figure']}", j["model"], str(j["depth"]), str(j["P"]), j["cpu_kernel"],
             num(j["cpu_epochs_per_s"], ".1f"), num(j["cuda_epochs_per_s"], ".1f"),
             num(j["speedup"], ".1f") + ("×" if j["speedup"] else ""), num(j["max_rel_gap"], ".1e"), str(j["diverged"]),
             {True: "yes", False: "**no**", None: "skipped (no CUDA)"}[j["agree"]]] for j in t["jobs"]]
    out += table(["figure", "model", "D", "P", "CPU kernel", "CPU ep/s", "CUDA ep/s", "CUDA/CPU", "gap", "diverged",
                  "agree"], rows)
    if t.get("not_run"):
        out += ["Not run (budget): " + ", ".join(f"Fig {j['figure']} {j['model']} D={j['depth']}" for j in t["not_run"]),
                ""]
    return out


def cifar_section(c) -> list[str]:
    if not c or not c.get("rows"):
        return []
    out = [f"## The CIFAR loop on the stand-in: pre-ResNet D = {c['depth']}, n = {c['n']} "
           f"({c['params']:,} parameters), batch {c['batch']}", ""]
    rows = [[r["device"], r["amp"], "yes" if r["channels_last"] else "no", str(r["images"]),
             num(r["images_per_s"], ".1f"), num(r["train_loss"][-1], ".3f")] for r in c["rows"]]
    return out + table(["device", "precision", "channels_last", "images", "images/s", "last train loss"], rows)


def main(argv: list[str]) -> int:
    out_dir, stages_tsv, env_json = Path(argv[0]), Path(argv[1]), Path(argv[2])
    stages = read_stages(stages_tsv)
    env = read_json(env_json) or {}
    results = {name: read_json(out_dir / f"{name}.json") for name in ("hessian-cuda", "hessian-cpu", "train", "cifar")}
    failed = [s["stage"] for s in stages if s["status"] in FAILED]
    summary = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "environment": env, "stages": stages,
               "failed": failed, "results": results}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    device = env.get("device_name") or "no CUDA device"
    md = [f"# benchmarks/gpu.sh — {summary['date']}, {device}", "",
          f"python `{env.get('python', '?')}`, torch {env.get('torch', '?')} (CUDA build: {env.get('cuda_build')}), "
          f"{env.get('cpu_count', '?')} CPU cores. {env.get('cuda_note', '')}", "",
          "## Stages", ""]
    md += table(["stage", "status", "seconds", "note"],
                [[s["stage"], s["status"], str(s["seconds"]), s["note"].replace("|", "/")] for s in stages])
    md += hessian_section(results["hessian-cuda"], results["hessian-cpu"])
    md += train_section(results["train"])
    md += cifar_section(results["cifar"])
    md += [f"Result: {'FAILED: ' + ', '.join(failed) if failed else 'no failures'} (details in gpu.log)."]
    (out_dir / "summary.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
