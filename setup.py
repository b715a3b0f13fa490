"""The C kernels of the reading path (daemon/_kernels.c); everything else is in pyproject.toml.

Optional: without a C compiler the package installs without them and measure.py uses their numpy twins.
-ffp-contract=off: no fused multiply-add, so every sum rounds as numpy's does.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "digitwatch.daemon._kernels",
            ["daemon/_kernels.c"],
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        )
    ]
)
