"""Every AnnData key that cellbridge reads or writes, in one place."""

from __future__ import annotations

#: default representation the models are fitted in
DEFAULT_REP = "X_pca"
#: scanpy's PCA loadings (genes x components); used to map PCA-space states back to genes
PCA_LOADINGS = "PCs"
#: default ``adata.uns`` key of a fitted model's record (params, time points, loss history)
DEFAULT_FIT_KEY = "cellbridge"
#: ``obs`` column that :func:`cellbridge.pp.prepare` writes: the time point as a float
TIME_NUMERIC = "cellbridge_time"
#: ``adata.uns`` key of :func:`cellbridge.pp.prepare`'s record
PREPARE_KEY = "cellbridge_prepare"

# columns of the AnnData returned by :func:`cellbridge.tl.simulate`
SIM_TIME = "time"
SIM_TRAJECTORY = "trajectory"
SIM_SOURCE_CELL = "source_cell"
SIM_SOURCE_TIME = "source_time"
#: obs column of a growth model's simulation: each row's weight, normalised to mean 1 per time point
SIM_WEIGHT = "weight"
#: obs column written by cb.tl.growth_rate: each cell's learned growth rate at its own time
GROWTH_RATE = "cellbridge_growth_rate"
#: ``uns`` key of the simulated AnnData holding the simulation's settings
SIMULATION = "cellbridge_simulation"
#: default ``adata.uns`` key of :func:`cellbridge.tl.leave_one_out`'s record (``results`` table, ``params``)
DEFAULT_LOO_KEY = "cellbridge_leave_one_out"
#: default ``adata.varp`` / ``adata.uns`` key of :func:`cellbridge.tl.grn`'s network (scores, edge table, params)
DEFAULT_GRN_KEY = "cellbridge_grn"
#: ``obs`` columns that :func:`cellbridge.pp.refine_time` writes: refined time and within-snapshot progress
TIME_REFINED = "cellbridge_time_refined"
PROGRESS = "cellbridge_progress"
#: default ``key_added`` of :func:`cellbridge.tl.velocity`: the gene-space velocity in ``layers[key]``, the
#: representation's in ``obsm[f"{key}_{basis}"]`` (``basis``: ``use_rep`` without ``X_``, e.g. ``velocity_pca``)
DEFAULT_VELOCITY_KEY = "velocity"
#: suffix of the ``uns`` key of :func:`cellbridge.tl.velocity`'s settings (``uns["velocity_params"]``)
VELOCITY_PARAMS_SUFFIX = "_params"
#: suffix of the gene-space layer of the states beside :func:`cellbridge.tl.velocity`'s gene-space velocity
#: (``layers["velocity_state"]``: scVelo's ``xkey`` for its velocity graph)
VELOCITY_STATE_SUFFIX = "_state"
#: default ``adata.obsp`` key of :func:`cellbridge.tl.transition_matrix` (row-stochastic cells x cells);
#: its settings go to ``uns[key + TRANSITIONS_PARAMS_SUFFIX]``, e.g. ``uns["cellbridge_transitions_params"]``
DEFAULT_TRANSITIONS_KEY = "cellbridge_transitions"
TRANSITIONS_PARAMS_SUFFIX = "_params"
#: suffix of the ``uns`` key of the settings of :func:`cellbridge.tl.fates`, :func:`cellbridge.tl.push`,
#: :func:`cellbridge.tl.pull` and :func:`cellbridge.tl.gene_trends` (``uns[key_added + "_params"]``)
PARAMS_SUFFIX = "_params"
#: default ``key_added`` of :func:`cellbridge.tl.fates`: probabilities in ``obsm[key]`` (DataFrame, one column
#: per group), Monte-Carlo standard errors in ``obsm[key + SE_SUFFIX]``
DEFAULT_FATES_KEY = "cellbridge_fates"
SE_SUFFIX = "_se"
#: default ``obs`` columns of :func:`cellbridge.tl.push` / :func:`cellbridge.tl.pull` (mass over the target cells)
DEFAULT_PUSH_KEY = "cellbridge_push"
DEFAULT_PULL_KEY = "cellbridge_pull"
#: default ``uns`` key of :func:`cellbridge.tl.gene_trends`'s table (time, gene, fate, mean, se, n_trajectories)
DEFAULT_GENE_TRENDS_KEY = "cellbridge_gene_trends"
