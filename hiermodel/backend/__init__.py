"""Backend stage: the only package that imports PyMC and PyTensor.

``design`` (Bambi design matrices and automatic priors), ``slots`` (prior slots), ``graph``
(the PyMC graph: group-level blocks, centered/non-centered), ``likelihoods`` (the PyMC side of
each family, looked up by family name), ``compress`` (exact compression into cells),
``distributions`` (priors as PyMC variables) and ``sampling`` (pymc / nutpie / numpyro /
blackjax, prior predictive draws).

Nothing is imported here: ``hiermodel.backend.sampling`` (backend names and checks) and
``hiermodel.backend.design`` stay cheap to import, PyMC loads with ``graph``.
"""
