"""The fault matrix: every provider against every fault, over real HTTP."""
