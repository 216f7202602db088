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
                     d(o, z)² / 2 per sample over the    and cell-cycle notebooks; hmtDNA R² only
                     number of features                  sets it: β‖Z_batch‖ warmed up over epochs
                                                         25-100, β = 100)
===================  ==================================  =========================================
"""
from __future__ import annotations

import dataclasses

import geoopt
import torch
from torch import nn

import rgd_utils as R

AUTHORS_STABILIZE = 5  # RiemannianAdam(stabilize=5) in train_rgd
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


AUTHORS_CHOICES = Switches(activation=nn.SiLU, decoder_dtype=torch.float64, weight_decay="coupled",
                           loss_reduction="sum", latent_init="projx", noise_gradient=True,
                           stabilize=AUTHORS_STABILIZE, noisy_validation=True,
                           authors_snapshot=True, prior="none")
DIFFERENCES = tuple(f.name for f in dataclasses.fields(Switches))
# the differences in how a model is trained; the prior is a difference of the model
TRAINING_DIFFERENCES = tuple(name for name in DIFFERENCES if name != "prior")


def variants(differences=DIFFERENCES):
    """Ours with each of ``differences`` switched to the authors' choice alone, and
    ``all_switches``, ours with every one of :data:`AUTHORS_CHOICES` (name -> Switches)."""
    unknown = set(differences) - set(DIFFERENCES)
    if unknown:
        raise ValueError(f"unknown differences {sorted(unknown)}; known: {', '.join(DIFFERENCES)}")
    chosen = {name: dataclasses.replace(Switches(), **{name: getattr(AUTHORS_CHOICES, name)})
              for name in differences}
    return {**chosen, "all_switches": AUTHORS_CHOICES}


class SwitchedDecoder(R.RiemannianDecoder):
    """:class:`rgd_utils.RiemannianDecoder` with the authors' choices where ``switches`` says,
    through the estimator's extension points (so alone, in :func:`rgd_utils.fit_together` and
    at test time alike); with ``Switches()`` it trains exactly as the estimator does (same
    draws, same latents). The other keyword arguments are the estimator's."""

    def __init__(self, switches=Switches(), **params):
        super().__init__(**params)
        self.switches = switches

    @property
    def decoder_dtype(self):
        return self.switches.decoder_dtype

    @property
    def latent_step_before_scoring(self):
        """Their loop saves its best state after the epoch's latent step."""
        return self.switches.authors_snapshot

    def build_decoder(self):
        decoder = super().build_decoder()
        if self.switches.activation is R.ELU:
            return decoder
        # swapped in place: the weights stay ours
        return nn.Sequential(*[self.switches.activation() if isinstance(m, nn.ELU) else m
                               for m in decoder])

    def init_latents(self, n):
        if self.switches.latent_init == "expmap":
            return super().init_latents(n)
        points = authors_latents(self.manifold_, n, int(self.latent_dim), self.init_std,
                                 self._generator, self.dtype_)
        return geoopt.ManifoldParameter(points, manifold=self.manifold_)

    def make_optimisers(self, decoder_params, latent_params):
        decoder_opt, latent_opt = super().make_optimisers(decoder_params, latent_params)
        if self.switches.weight_decay == "coupled":
            decoder_opt = torch.optim.Adam(decoder_params, lr=self.lr_decoder,
                                           betas=self.betas_decoder, weight_decay=self.weight_decay)
        if self.switches.stabilize is not None:
            latent_opt = geoopt.optim.RiemannianAdam(
                [{"params": [p]} for p in latent_params], lr=self.lr_latent,
                betas=self.betas_latent, stabilize=self.switches.stabilize)
        return decoder_opt, latent_opt

    def stopping_patience(self):
        """They stop once ``patience`` epochs passed without improvement, ours one later."""
        return self.patience - 1 if self.switches.authors_snapshot else self.patience

    def validation_latents(self, z_val):
        return self.noisy_latents(z_val) if self.switches.noisy_validation else z_val

    def objective(self, per_sample):
        """The mean, or the sum over features and samples."""
        if self.switches.loss_reduction == "sum":
            return per_sample.sum() * self.n_features_in_
        return per_sample.mean()

    def prior_active(self):
        return self.switches.prior != "none" and super().prior_active()

    def noisy_latents(self, z):
        if self.noise_std > 0 and self.switches.noise_gradient:
            return authors_noise(self.manifold_, z, self.noise_std, self._generator)
        return super().noisy_latents(z)
