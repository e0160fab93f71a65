"""Execute notebooks as `nbdev-test --save` does, longest first.

`nbdev-test` hands its workers the notebooks in alphabetical order, so the two longest chapters (04, 05) start last
and one worker runs alone for minutes at the end. This runs the same `nbdev.test.test_nb` on the same files with the
same skip flags, cell timeout and saving, but queues them longest first (the times measured in CI, below), which is
the classic longest-processing-time schedule: the last notebook to finish is a short one.

    python scripts/execute.py _exec [--file-re REGEX] [--n-workers 2]

Prints the seconds per notebook and exits 1 naming every notebook that failed.
"""
import argparse, sys, time
from pathlib import Path

# seconds per notebook with one thread per worker, measured in a CI run (2-core AMD EPYC without AVX-512, fp32,
# torch 2.13.0+cpu); 06_trust, 09_probes and 10_explain were measured on a 2-core EPYC with AVX512-BF16 and scaled by
# 3.4, chapter 04's ratio between the two machines. Only the order matters; a notebook not listed counts as short.
MEASURED = {"06_trust": 1100, "04_peft": 771, "05_decoders": 477, "09_probes": 340, "10_explain": 250,
            "02_sequence_classification": 176, "07_instructions": 170, "11_deploy": 150, "06_run": 122, "07_cli": 112, "03_token_classification": 55}


def order(files):
    "Longest first by the measured times; ties (the short ones) alphabetically."
    return sorted(files, key=lambda f: (-MEASURED.get(f.stem, 0), str(f)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", help="folder of notebooks (a copy of nbs/: the executed notebooks are saved in place)")
    p.add_argument("--file-re", default=None, help="only notebooks whose file name matches this regular expression")
    p.add_argument("--n-workers", type=int, default=2)
    a = p.parse_args(argv)
    from fastcore.parallel import parallel
    from nbdev.config import get_config
    from nbdev.doclinks import nbglob
    from nbdev.test import test_nb, _keep_file
    folder = Path(a.path).resolve()
    if not folder.is_dir(): sys.exit(f"execute.py: {folder} is not a folder of notebooks")
    cfg = get_config(folder)
    files = [f.absolute() for f in nbglob(folder, as_path=True, file_re=a.file_re) if _keep_file(f, ".notest")]
    if not files: sys.exit(f"execute.py: no notebooks in {folder}" + (f" match {a.file_re!r}" if a.file_re else ""))
    files = order(files)
    skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags)
    print(f"executing {len(files)} notebooks with {a.n_workers} workers, longest first: "
          + ", ".join(f.stem for f in files[:4]) + (", ..." if len(files) > 4 else ""), flush=True)
    t0 = time.time()
    results = parallel(test_nb, files, skip_flags=skip, force_flags=[], n_workers=a.n_workers if len(files) > 1 else 0,
                       basepath=cfg.config_path, save=True, cell_timeout=cfg.cell_timeout or None, pause=0.01)
    times = {str(f.relative_to(folder)): round(t, 1) for f, (ok, t) in zip(files, results)}
    for name, t in sorted(times.items(), key=lambda kv: -kv[1]): print(f"{name}: {int(t)} secs")
    print(f"all notebooks: {time.time() - t0:.0f} s wall")
    failed = [str(f.relative_to(folder)) for f, (ok, _) in zip(files, results) if not ok]
    if failed: sys.exit("notebooks failed: " + ", ".join(failed))
    print("Success.")


if __name__ == "__main__": main()
