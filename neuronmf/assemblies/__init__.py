"""Neural assemblies: neurons that fire together, found by KL (Poisson) NMF.

``detect`` returns an xarray Dataset (membership, members, activations, p-values);
``sequences`` finds neurons that fire in a fixed order (convolutive NMF,
seqNMF) with a held-out significance test; ``detect_ica`` is the PCA/ICA
method of Lopes-dos-Santos et al. (2013), kept for comparison. Planted
assemblies for tests and examples: ``neuronmf.datasets.simulate_assemblies``.
"""

from neuronmf.assemblies._core import detect
from neuronmf.assemblies._ica import detect_ica, marchenko_pastur_count
from neuronmf.assemblies._input import bin_spikes
from neuronmf.assemblies._sequences import sequences

__all__ = ["bin_spikes", "detect", "detect_ica", "marchenko_pastur_count", "sequences"]
