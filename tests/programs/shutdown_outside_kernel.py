"""Call shutdown_kernel() outside a Jupyter kernel, then print 'still alive'.

Run by tests/test_setup.py::test_shutdown_kernel_outside_kernel_keeps_process: in a fresh
process, so that if shutdown_kernel() wrongly ended the process it would not end pytest.
"""
from nbhelpers.setup import shutdown_kernel

shutdown_kernel()
print("still alive")
