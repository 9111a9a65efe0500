"""What the benchmark scripts share: running the CLI in a child that reports its own peak."""

#: ``python -c MEASURED_CLI ARGS…`` runs ``contactgate ARGS…`` and prints ``PEAK_RSS_KB n``
#: on stderr: the child's own peak (``VmHWM`` of the new image), not ``ru_maxrss``, which
#: Linux carries over ``execve`` from the (v)forked parent — it would report the parent's.
MEASURED_CLI = (
    "import re, sys; from pathlib import Path; from serving.cli import main; "
    "rc = main(sys.argv[1:]); "
    "hwm = re.search(r'VmHWM:\\s+(\\d+)', Path('/proc/self/status').read_text()).group(1); "
    "print('PEAK_RSS_KB', hwm, file=sys.stderr); sys.exit(rc)"
)
