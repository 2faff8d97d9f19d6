"""The top-level lazy names are exactly the engine's and model selection's."""

import neuronmf as nm


def test_lazy_names_match_the_subpackages():
    import neuronmf.engine as engine
    import neuronmf.model_selection as ms

    engine_names = {k for k, v in nm._LAZY.items() if v == "neuronmf.engine"}
    assert engine_names == set(engine.__all__)
    for name in ("RankScan", "select_rank"):
        assert name in ms.__all__
    for name in nm.__all__:
        assert getattr(nm, name) is not None
