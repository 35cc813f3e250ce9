"""scikit-learn's own estimator checks."""

import warnings

from sklearn.utils.estimator_checks import parametrize_with_checks

from suffstats import BayesianGaussianMixture, GaussianMixture, GaussianMixtureImputer, GaussianNB, KMeans

KMEANS_EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data":
        "k-means++ seeding draws from the weighted sample: equal to repeated rows in distribution, not draw for draw",
}


# The mixtures follow scikit-learn's conventions without inheriting its BaseEstimator (importing
# scikit-learn takes a second; see suffstats/_estimator.py): the checks warn about that when collected.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Estimator .* does not inherit from `sklearn.base.BaseEstimator`")
    checks = parametrize_with_checks(
        [GaussianMixture(), GaussianMixture(covariance_type="diag", batch_size=7), KMeans(3),
         GaussianMixture(missing="marginalize"), GaussianMixtureImputer(), GaussianNB(), GaussianNB(batch_size=7),
         BayesianGaussianMixture(),
         BayesianGaussianMixture(covariance_type="diag", batch_size=7,
                                 weight_concentration_prior_type="dirichlet_distribution")],
        expected_failed_checks=lambda est: KMEANS_EXPECTED_FAILURES if isinstance(est, KMeans) else {},
    )


@checks
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
