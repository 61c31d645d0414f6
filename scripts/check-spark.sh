#!/usr/bin/env bash
# tensormap.spark on Apache Spark's local[2] (python/tests/test_spark.py): radius, kNN,
# attention, distance join, TensorQL and embed against one database holding the same
# 200,000 objects. Needs Java 17+ (Spark's JVM); fails, never skips, without it.
#
#   scripts/check-spark.sh [WHEEL]
#
# WHEEL: the package's wheel (.ci/run's python step leaves it in target/wheels/); without
# it the package is built here with maturin, as that step does. The virtual environment
# (pyspark is ~450 MB) lives in target/spark-venv and is kept between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v java >/dev/null || {
    echo "check-spark: Java 17+ is required (Debian: apt-get install openjdk-17-jre-headless)" >&2
    exit 1
}

venv="$PWD/target/spark-venv"
pins=(pyspark==4.0.1 pyarrow==26.0.1 pandas==3.1.1 numpy==2.4.6 pytest maturin)
if ! "$venv/bin/python" -c "import pyspark, pyarrow, pandas, numpy, pytest" 2>/dev/null \
    || [ "$("$venv/bin/python" -c 'import pyspark; print(pyspark.__version__)')" != 4.0.1 ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "${pins[@]}"
fi

wheel="${1:-}"
if [ -z "$wheel" ]; then
    (
        cd python
        export CARGO_TARGET_DIR="$PWD/../target" PYO3_PYTHON="$venv/bin/python"
        rm -rf ../target/wheels-spark
        "$venv/bin/maturin" build --locked --interpreter "$venv/bin/python" -o ../target/wheels-spark
    )
    wheel="$(ls target/wheels-spark/tensormap-*.whl | head -n 1)"
fi
"$venv/bin/pip" install --quiet --no-deps --force-reinstall "$wheel"

export PYSPARK_PYTHON="$venv/bin/python" PYSPARK_DRIVER_PYTHON="$venv/bin/python"
export TENSORMAP_REQUIRE_SPARK=1
# Run from outside python/ so that `import tensormap` is the installed wheel.
cd python/tests
"$venv/bin/python" -m pytest -q -p no:cacheprovider test_spark.py
