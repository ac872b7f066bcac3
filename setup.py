"""Builds the engine's compiled parts in place: `python setup.py build_ext --inplace` (`make` runs it).

The project is not installed as a package; this file exists only for its two C extensions,
written in Cython: `engine/batch.pyx` (the worker's batch path) and `engine/records.pyx` (the
journal's records, linked with zlib for the CRC).
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    name="exchange-console-engine-batch",
    packages=[],
    py_modules=[],
    ext_modules=cythonize(
        [
            Extension("engine.batch", ["engine/batch.pyx"], extra_compile_args=["-O2"]),
            Extension("engine.records", ["engine/records.pyx"], libraries=["z"], extra_compile_args=["-O2"]),
        ],
        language_level=3,
        quiet=True,
        nthreads=2,
    ),
)
