"""The authors' training choices, each one switchable on our estimator.

Read from the authors' ``_train.py`` and notebooks and re-implemented (not copied): a
:class:`SwitchedDecoder` is :class:`rgd_utils.RiemannianDecoder` with the authors' choice
wherever its :class:`Switches` say so, and trains exactly as the estimator with ``Switches()``.
``scripts/hmtdna_protocol.py`` (hmtDNA, H²) and ``scripts/branching_differences.py`` (branching
data, H² and R²) measure each switch; the first also has the authors' whole loop, which every
switch on reproduces (the tests check it to 1e-10).

===================  ==================================  =========================================
switch               ours                                authors (where)
===================  ==================================  =========================================
activation           ELU                                 SiLU (notebooks, ``RGD``)
decoder_dtype        float32 decoder and data            float64 (notebooks:
                                                         ``torch.set_default_dtype(torch.float64)``)
weight_decay         AdamW, decoupled                    Adam ``weight_decay``: L2 coupled into
                                                         the gradient (``train_rgd``)
loss_reduction       mean over features and samples      sum over both (``train_rgd``)
latent_init          exp_o of N(0, 1e-3² I) tangent      ``projx(1e-3 N(0, I) - origin)`` in
                                                         ambient coordinates (``init_samples``)
noise_gradient       exp_z(ε) with ε drawn without       ``retr(z, egrad2rgrad(z, σ n))`` with
                     gradient (``noise_gradient=         autograd through both (``add_noise``); the
                     "fixed"``, see :data:`BASELINE`)    same noise, another gradient
stabilize            none                                RiemannianAdam ``stabilize=5`` (projx of
                                                         the latents every 5 steps)
noisy_validation     validation loss without noise       validation latents noised too
authors_snapshot     best state scored before the        saved after the epoch's latent step;
                     epoch's latent step; stop after     stops after ``patience`` epochs without
                     patience + 1 epochs without         improvement
                     improvement
prior                N(0, I) on Euclidean latents:       none (``use_prior=False`` in the branching
                     d(o, z)² / 2 per sample over the    and cell-cycle notebooks); hmtDNA R²
                     number of features                  only (``"batch_norm"``): w(t) ‖Z_batch‖₂
                                                         on each training minibatch, the Frobenius
                                                         norm of its latents, w(t) of
                                                         :func:`authors_prior_weight`, β = 100
                                                         (their Table 3 loop, ``train_rgd``)
===================  ==================================  =========================================

The switches a row or study needs are named in :data:`NAMED_SWITCHES`, so an estimator's
parameters stay data (a fit cache can key and store them): ``SwitchedDecoder(switches=
"hmtdna_r2_paper")`` is Table 3's R² row as the paper ran it.
"""
from __future__ import annotations

import dataclasses

import geoopt
import torch
from torch import nn

import rgd_utils as R

AUTHORS_STABILIZE = 5  # RiemannianAdam(stabilize=5) in train_rgd
AUTHORS_PRIOR_BETA = 100.0  # beta=100 in their hmtDNA notebooks' Table 3 loop
AUTHORS_PRIOR_START, AUTHORS_PRIOR_FULL = 25, 75  # train_rgd's schedule (epochs)
# the estimator's settings the differences are measured from: the noise gradient held fixed, so
# that the noise_gradient switch measures the authors' gradient (our default is now the same)
BASELINE = dict(noise_gradient="fixed")


def authors_latents(manifold, n, dim, std, generator, dtype=torch.float64):
    """Their ``init_samples``: ``n`` points of a small ambient Gaussian minus the origin,
    projected onto the manifold of dimension ``dim`` (on the hyperboloid projx recomputes x0, so
    the sign of the shift does not matter)."""
    origin = R.manifold_origin(manifold, dim, dtype)
    ambient = std * torch.randn(n, len(origin), dtype=dtype, generator=generator) - origin
    return manifold.projx(ambient)


def authors_noise(manifold, z, std, generator):
    """Their ``add_noise``: isotropic noise turned into a tangent vector by egrad2rgrad, then the
    retraction, all under autograd, so the gradient also flows through the noise's dependence on
    ``z``, as :func:`rgd_utils.perturb` does with its default ``gradient="pathwise"`` (and not
    with ``"fixed"``, the setting :data:`BASELINE` measures the differences from)."""
    normal = torch.randn(z.shape, dtype=z.dtype, device=z.device, generator=generator)
    return manifold.retr(z, manifold.egrad2rgrad(z, std * normal))


def authors_prior_weight(epoch, beta=AUTHORS_PRIOR_BETA):
    """The weight w(t) of their batch prior at (0-based) ``epoch`` t, as ``train_rgd`` has it.

    w(t) = 0 for t < 25, β (t - 25) / 75 for 25 <= t < 75, and β from t = 75 on: the ramp
    reaches 49/75 β at epoch 74 and then jumps to β (their comment says "linear schedule to beta
    at 100 epochs"; the code is followed here).
    """
    if epoch < AUTHORS_PRIOR_START:
        return 0.0
    if epoch < AUTHORS_PRIOR_FULL:
        return beta * (epoch - AUTHORS_PRIOR_START) / AUTHORS_PRIOR_FULL
    return float(beta)


@dataclasses.dataclass(frozen=True)
class Switches:
    """Our training (the defaults) or, field by field, the authors' choice (see the module
    docstring's table)."""

    activation: type = R.ELU
    decoder_dtype: torch.dtype = torch.float32
    weight_decay: str = "decoupled"
    loss_reduction: str = "mean"
    latent_init: str = "expmap"
    noise_gradient: bool = False
    stabilize: int | None = None
    noisy_validation: bool = False
    authors_snapshot: bool = False
    prior: str = "ours"

    def __post_init__(self):
        if self.prior not in PRIORS:
            raise ValueError(f"Switches(prior={self.prior!r}) is not one of {', '.join(PRIORS)}")


# "ours": the estimator's own prior; "none": no prior; "batch_norm": the authors' hmtDNA R² prior
PRIORS = ("ours", "none", "batch_norm")


AUTHORS_CHOICES = Switches(activation=nn.SiLU, decoder_dtype=torch.float64, weight_decay="coupled",
                           loss_reduction="sum", latent_init="projx", noise_gradient=True,
                           stabilize=AUTHORS_STABILIZE, noisy_validation=True,
                           authors_snapshot=True, prior="none")
# their hmtDNA R² (Table 3): every choice of theirs, with their batch prior
AUTHORS_HMTDNA_R2 = dataclasses.replace(AUTHORS_CHOICES, prior="batch_norm")
NAMED_SWITCHES = {
    "ours": Switches(),
    "authors": AUTHORS_CHOICES,
    "authors_hmtdna_r2": AUTHORS_HMTDNA_R2,
    # Table 3's R² row as the paper ran it: their prior and ramp, inside their summed loss
    "hmtdna_r2_paper": Switches(prior="batch_norm", loss_reduction="sum"),
}
DIFFERENCES = tuple(f.name for f in dataclasses.fields(Switches))
# the differences in how a model is trained; the prior is a difference of the model
TRAINING_DIFFERENCES = tuple(name for name in DIFFERENCES if name != "prior")


def variants(differences=DIFFERENCES, authors=None):
    """Ours with each of ``differences`` switched to the authors' choice alone, and
    ``all_switches``, ours with every one of ``authors`` (default :data:`AUTHORS_CHOICES`;
    :data:`AUTHORS_HMTDNA_R2` for their hmtDNA R²): name -> Switches."""
    authors = AUTHORS_CHOICES if authors is None else authors
    unknown = set(differences) - set(DIFFERENCES)
    if unknown:
        raise ValueError(f"unknown differences {sorted(unknown)}; known: {', '.join(DIFFERENCES)}")
    chosen = {name: dataclasses.replace(Switches(), **{name: getattr(authors, name)})
              for name in differences}
    return {**chosen, "all_switches": authors}


class SwitchedDecoder(R.RiemannianDecoder):
    """:class:`rgd_utils.RiemannianDecoder` with the authors' choices where ``switches`` says,
    through the estimator's extension points (so alone, in :func:`rgd_utils.fit_together` and
    at test time alike); with ``Switches()`` it trains exactly as the estimator does (same
    draws, same latents).

    Parameters
    ----------
    switches : Switches or str, default Switches()
        The choices, or the name of a set of them in :data:`NAMED_SWITCHES` (a name keeps the
        parameters storable by the fit cache).
    **params
        The estimator's parameters (all of them appear in ``get_params``).
    """

    def __init__(self, switches=Switches(), **params):
        super().__init__(**params)
        self.switches = switches

    @classmethod
    def _get_param_names(cls):
        # the estimator's parameters come through **params, which scikit-learn does not see
        return sorted({"switches", *R.RiemannianDecoder._get_param_names()})

    @property
    def switches_(self):
        """The :class:`Switches` of ``switches`` (a name is looked up)."""
        if isinstance(self.switches, Switches):
            return self.switches
        if self.switches not in NAMED_SWITCHES:
            raise ValueError(f"switches={self.switches!r} is neither a Switches nor one of "
                             f"{', '.join(map(repr, NAMED_SWITCHES))}")
        return NAMED_SWITCHES[self.switches]

    @property
    def decoder_dtype(self):
        return self.switches_.decoder_dtype

    @property
    def latent_step_before_scoring(self):
        """Their loop saves its best state after the epoch's latent step."""
        return self.switches_.authors_snapshot

    def build_decoder(self):
        decoder = super().build_decoder()
        if self.switches_.activation is R.ELU:
            return decoder
        # swapped in place: the weights stay ours
        return nn.Sequential(*[self.switches_.activation() if isinstance(m, nn.ELU) else m
                               for m in decoder])

    def init_latents(self, n):
        if self.switches_.latent_init == "expmap":
            return super().init_latents(n)
        points = authors_latents(self.manifold_, n, int(self.latent_dim), self.init_std,
                                 self._generator, self.dtype_)
        return geoopt.ManifoldParameter(points, manifold=self.manifold_)

    def make_optimisers(self, decoder_params, latent_params):
        switches = self.switches_
        decoder_opt, latent_opt = super().make_optimisers(decoder_params, latent_params)
        if switches.weight_decay == "coupled":
            decoder_opt = torch.optim.Adam(decoder_params, lr=self.lr_decoder,
                                           betas=self.betas_decoder, weight_decay=self.weight_decay)
        if switches.stabilize is not None:
            latent_opt = geoopt.optim.RiemannianAdam(
                [{"params": [p]} for p in latent_params], lr=self.lr_latent,
                betas=self.betas_latent, stabilize=switches.stabilize)
        return decoder_opt, latent_opt

    def stopping_patience(self):
        """They stop once ``patience`` epochs passed without improvement, ours one later."""
        return self.patience - 1 if self.switches_.authors_snapshot else self.patience

    def objective(self, per_sample):
        """The mean, or the sum over features and samples."""
        if self.switches_.loss_reduction == "sum":
            return per_sample.sum() * self.n_features_in_
        return per_sample.mean()

    def noisy_latents(self, z):
        """A training minibatch's latents, noised; with the batch prior, this also arms the
        prior's weight for that minibatch's loss (their prior acts in training passes only:
        neither their validation loss nor their test-time search has it)."""
        if self.switches_.prior == "batch_norm":
            self._batch_prior_weight = authors_prior_weight(len(self.history_["epoch"]))
        return self._noised(z)

    def validation_latents(self, z_val):
        return self._noised(z_val) if self.switches_.noisy_validation else z_val

    def _noised(self, z):
        if self.noise_std > 0 and self.switches_.noise_gradient:
            return authors_noise(self.manifold_, z, self.noise_std, self._generator)
        return super().noisy_latents(z)

    def prior_active(self):
        prior = self.switches_.prior
        return prior == "batch_norm" or (prior == "ours" and super().prior_active())

    def prior_penalty(self, z):
        """Ours, or their batch prior w(t) ‖Z_batch‖₂ shared evenly by the minibatch's rows and
        divided by the number of features like the likelihood (so the summed objective adds
        exactly w(t) ‖Z_batch‖₂); zero outside a training minibatch."""
        if self.switches_.prior != "batch_norm":
            return super().prior_penalty(z)
        weight, self._batch_prior_weight = getattr(self, "_batch_prior_weight", 0.0), 0.0
        norm = torch.linalg.vector_norm(z.reshape(len(z), -1))
        return (weight * norm / (len(z) * self.n_features_in_)).expand(len(z))
