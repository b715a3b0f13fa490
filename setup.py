"""The C kernels of the reading path (daemon/kernels/); everything else is in pyproject.toml.

Optional: without a C compiler the package installs without them and measure.py uses their numpy twins.
-ffp-contract=off: no fused multiply-add, so every sum rounds as numpy's does; -fvisibility=hidden: only
PyInit__kernels is exported (no other library's symbol of the same name can stand in for ours).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "digitwatch.daemon._kernels",
            ["daemon/kernels/module.c", "daemon/kernels/order.c", "daemon/kernels/boxing.c"],
            depends=["daemon/kernels/kernels.h"],
            extra_compile_args=["-O2", "-ffp-contract=off", "-fvisibility=hidden"],
            optional=True,
        )
    ]
)
