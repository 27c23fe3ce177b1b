"""The decision rule refitted from askers' labels: it moves only as far as the labels support,
counts labels per client, and no single client can loosen it."""

from app.search.asker_rule import ASKER_RULE, Label, applies, fit_from_labels, with_askers
from app.search.decision import DecisionRule

# A FAQ rule that answers at score 0.60 and margin 0.10, with its far-off and near-domain
# estimates: far-off questions score low; near-domain ones score 0.30-0.55 with clear margins.
RULE = DecisionRule(
    answer_score=0.60,
    answer_margin=0.10,
    clarify_score=0.30,
    related_score=0.25,
    entries=100,
    fitted={
        "constraints": {
            "far": [[0.1 + 0.001 * i, 0.05] for i in range(100)],
            "near": [[0.30 + 0.0025 * i, 0.3] for i in range(100)],
        }
    },
)


def right_under_the_bar(clients: int, per_client: int = 1) -> list[Label]:
    """Askers whose right entries scored 0.45-0.58 with clear margins: the FAQ rule asked them
    back, and they picked the right entry."""
    return [
        Label(0.45 + 0.13 * (i % 10) / 10, 0.2, True, f"client-{i // per_client}")
        for i in range(clients * per_client)
    ]


def test_many_askers_picking_the_right_entry_lower_the_score_threshold():
    fit = fit_from_labels(RULE, right_under_the_bar(40))
    assert fit.moved and fit.answer_score < 0.60
    # as low as the near-domain estimate allows (at most 15% of it answered), no lower
    near = RULE.fitted["constraints"]["near"]
    assert sum(score >= fit.answer_score for score, _ in near) <= 15
    assert fit.answer_score <= 0.515 + 1e-9  # the lowest labelled score that keeps to that
    assert (fit.labels, fit.clients) == (40, 40)
    assert fit.right_after > fit.right_before == 0


def test_too_few_clients_move_nothing():
    fit = fit_from_labels(RULE, right_under_the_bar(2, per_client=10))
    assert not fit.moved and (fit.answer_score, fit.answer_margin) == (0.60, 0.10)
    assert "too few labels" in fit.reason


def test_one_client_cannot_loosen_the_rule_alone():
    # three clients with one label each the rule already answers, and one client with many
    # labels under the bar: without that client nothing supports a looser rule
    labels = [Label(0.7, 0.2, True, f"quiet-{i}") for i in range(3)]
    labels += [Label(0.45 + 0.001 * i, 0.2, True, "loud") for i in range(200)]
    fit = fit_from_labels(RULE, labels)
    assert (fit.answer_score, fit.answer_margin) == (0.60, 0.10)
    assert fit.labels == 3 + 20  # the loud client's labels beyond its budget do not count


def test_wrong_answers_among_the_labels_make_the_rule_stricter():
    # askers said "not helpful" to a fifth of what the rule answered, all with small margins
    labels = [Label(0.8, 0.3, True, f"happy-{i}") for i in range(40)]
    labels += [Label(0.75, 0.11 + 0.001 * i, False, f"unhappy-{i}") for i in range(10)]
    fit = fit_from_labels(RULE, labels)
    assert fit.moved and fit.answer_margin > 0.11
    assert fit.wrong_after <= 0.05 * fit.labels < 10 == fit.labels - fit.right_before
    assert fit.right_after == 40  # the clear answers are still given


def test_missed_questions_nobody_labelled_count_as_wrong_when_answered():
    # right labels under the bar, mixed with as many missed questions at the same scores that
    # nobody said anything about: answering them would be guessing
    labels = right_under_the_bar(30)
    labels += [Label(label.best, label.margin, None, f"silent-{i}") for i, label in enumerate(labels)]
    fit = fit_from_labels(RULE, labels)
    assert fit.wrong_after <= 0.05 * fit.labels
    assert fit.answer_score > 0.55


def test_the_stored_change_applies_only_to_the_faq_rule_it_was_fitted_on():
    fit = fit_from_labels(RULE, right_under_the_bar(40))
    stored = {**fit.to_record(), "base": [RULE.answer_score, RULE.answer_margin]}
    assert applies(stored, RULE)
    in_force = with_askers(RULE, stored)
    assert in_force.answer_score == fit.answer_score and in_force.fitted["askers"]["clients"] == 40
    refitted = DecisionRule(0.62, 0.1, 0.3, 0.25, 101)  # the FAQ changed and its rule was refitted
    assert with_askers(refitted, stored) is refitted
    assert ASKER_RULE == "asker_rule"
