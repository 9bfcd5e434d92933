"""Negative log-likelihood of observed vote counts under the predicted answer probabilities.

For one question with answers a = 1..A, observed counts k_a and N = sum_a k_a volunteers:

    NLL = -log Multinomial(k; N, p)

which is the binomial NLL when A = 2. N = 0 contributes exactly 0 (log Multinomial(0; 0, p) = 0).
Summed over questions (Keras adds the per-output losses).
"""

import tensorflow as tf
import tensorflow_probability as tfp

# Keeps log(p) finite when the softmax saturates; small enough not to bias well-fitted outputs.
PROBABILITY_FLOOR = 1e-7


def vote_count_nll(counts, probabilities, *, drop_constant: bool = True):
    """Per-item multinomial NLL.

    counts: [items, answers] (int or float), probabilities: [items, answers] rows summing to 1.
    Returns [items] float32. With `drop_constant`, the combinatorial term log(N! / prod k_a!),
    which does not depend on the model, is left out (as in the reference code).
    """
    counts = tf.cast(counts, tf.float32)
    # An affine squeeze rather than clipping: it keeps log(p) finite and lets a NaN through, so a
    # diverged model shows up as a NaN loss instead of hiding behind a clipped value.
    probabilities = (
        tf.cast(probabilities, tf.float32) * (1.0 - 2 * PROBABILITY_FLOOR) + PROBABILITY_FLOOR
    )
    total_votes = tf.reduce_sum(counts, axis=-1)
    distribution = tfp.distributions.Multinomial(total_count=total_votes, probs=probabilities)
    log_likelihood = distribution.log_prob(counts)
    if drop_constant:
        log_likelihood -= tf.math.lgamma(total_votes + 1.0) - tf.reduce_sum(
            tf.math.lgamma(counts + 1.0), axis=-1
        )
    return -log_likelihood


def keras_vote_loss(y_true, y_pred):
    """Keras loss for one question's output: y_true holds counts [batch, answers]."""
    return vote_count_nll(y_true, y_pred)


def mixture_vote_nll(counts, probabilities, *, answers: tuple[int, ...], alpha: float = 1.0):
    """Per-item loss of the votes under several dropout masks at once, joint over questions.

    counts: [items, all answers] (questions side by side, `answers` per question);
    probabilities: [items, masks, all answers]. With log L_k = sum_q log Multinomial(k_q; N_q, p_qk)
    (combinatorial constant dropped), returns -(1/alpha) (logsumexp_k(alpha log L_k) - log masks).
    alpha = 1 is -log of the MC predictive's likelihood; alpha -> 0 approaches the mean of the
    per-mask NLLs (plain dropout training).
    """
    counts = tf.cast(counts, tf.float32)
    masks = tf.shape(probabilities)[1]
    log_likelihood = 0.0
    start = 0
    for width in answers:
        question_counts = counts[:, start : start + width]
        question_probabilities = probabilities[:, :, start : start + width]
        repeated = tf.repeat(question_counts[:, None, :], masks, axis=1)
        log_likelihood += -vote_count_nll(
            tf.reshape(repeated, (-1, width)), tf.reshape(question_probabilities, (-1, width))
        )
        start += width
    log_likelihood = tf.reshape(log_likelihood, (-1, masks))
    log_masks = tf.math.log(tf.cast(masks, tf.float32))
    return -(tf.reduce_logsumexp(alpha * log_likelihood, axis=1) - log_masks) / alpha


def keras_mixture_vote_loss(answers: tuple[int, ...], alpha: float = 1.0):
    """The Keras loss for BayesianCNN.trainer's output (y_true: counts [batch, all answers])."""

    def loss(y_true, y_pred):
        return mixture_vote_nll(y_true, y_pred, answers=answers, alpha=alpha)

    return loss
