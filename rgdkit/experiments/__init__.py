"""The experiment loop the notebooks share (``loop``), run profiles (``profiles``), tables over seeds
(``tables``) and the pullback study (``pullback_study``)."""
