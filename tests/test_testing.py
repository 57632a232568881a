"""check_vjp grades a student's op: it passes correct ops and names each planted mistake."""
import pytest

import chainrule
from chainrule.errors import ShapeError
from chainrule.testing import check_vjp


def linear_forward(x, w):
    return x @ w.T


def sigmoid_forward(x):
    return 1 / (1 + chainrule.backend.xp.exp(-x))


def add_bias_forward(x, b):
    return x + b


def square_forward(x):
    return x * x


def cube_forward(x):
    return x * x * x


CORRECT = {
    "linear": (linear_forward, lambda g, out, x, w: (g @ w, g.T @ x), [((4, 3), (2, 3)), ((3, 3), (3, 3))]),
    "sigmoid": (sigmoid_forward, lambda g, out, x: g * out * (1 - out), [((5,),), ((2, 3),)]),
    "add_bias": (add_bias_forward, lambda g, out, x, b: (g, g.sum(0)), [((4, 3), (3,))]),
    "square": (square_forward, lambda g, out, x: g * 2 * x, [((6,),)]),
    "cube": (cube_forward, lambda g, out, x: g * 3 * x * x, [((6,),)]),
}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_a_correct_op_passes_every_check(name):
    forward, vjp, samples = CORRECT[name]
    report = check_vjp(forward, vjp, samples)
    assert report, str(report)
    assert "correct on" in str(report)


def test_a_missing_transpose_is_named_with_the_input_and_its_shapes():
    report = check_vjp(linear_forward, lambda g, out, x, w: (g @ w, x.T @ g), [((4, 3), (2, 3))])
    assert not report
    (problem,) = report.problems
    assert problem.check == "shape" and problem.sample == 0
    assert "w̄ has shape (3, 2) but w has shape (2, 3)" in problem.message


def test_a_missing_transpose_on_square_matrices_is_a_first_order_error():
    report = check_vjp(linear_forward, lambda g, out, x, w: (g @ w, x.T @ g), [((3, 3), (3, 3))])
    (problem,) = report.problems
    assert problem.check == "first order"
    assert "w̄ = Σⱼ v̄ⱼ ∂vⱼ/∂w disagrees at w[" in problem.message
    assert "yours" in problem.message and "finite differences" in problem.message


def test_a_wrong_sign_is_a_first_order_error_naming_the_input():
    report = check_vjp(sigmoid_forward, lambda g, out, x: -g * out * (1 - out), [((5,),)])
    (problem,) = report.problems
    assert problem.check == "first order" and "x̄" in problem.message


def test_a_forgotten_broadcast_reduction_is_a_shape_error():
    report = check_vjp(add_bias_forward, lambda g, out, x, b: (g, g), [((4, 3), (3,))])
    (problem,) = report.problems
    assert problem.check == "shape"
    assert "b̄ has shape (4, 3) but b has shape (3,)" in problem.message
    assert "sum the error signal over the axes" in problem.message


def test_a_missing_factor_of_two_is_a_first_order_error():
    report = check_vjp(square_forward, lambda g, out, x: g * x, [((6,),)])
    (problem,) = report.problems
    assert problem.check == "first order" and "x̄" in problem.message


def test_a_wrong_second_derivative_passes_first_order_and_fails_second():
    # 3x² written as 3·x·stop(x): right values, but differentiating it gives 3x instead of 6x
    report = check_vjp(cube_forward, lambda g, out, x: g * 3 * x * x.detach(), [((6,),)])
    (problem,) = report.problems
    assert problem.check == "second order"
    assert "the derivative of the VJP with respect to x disagrees at x[" in problem.message
    assert "Tensor ops" in problem.message


def test_a_report_without_the_second_order_check_does_not_claim_it():
    # the same VJP that fails second order passes when that check is skipped, and says so
    report = check_vjp(cube_forward, lambda g, out, x: g * 3 * x * x.detach(), [((6,),)],
                       second_order=False)
    assert report
    assert str(report) == ("cube_forward: correct on 1 sample(s): shapes and first order agree "
                           "with finite differences (second order not checked)")


def test_a_vjp_returning_too_few_gradients_is_reported():
    report = check_vjp(linear_forward, lambda g, out, x, w: g @ w, [((4, 3), (2, 3))])
    (problem,) = report.problems
    assert "returned 1 gradient(s) for 2 input(s) (x, w)" in problem.message


def test_refuses_checks_that_bad_shapes_are_rejected():
    def strict_linear(x, w):
        if x.shape[-1] != w.shape[-1]:
            raise ShapeError(f"linear: {x.shape} and {w.shape}")
        return x @ w.T

    vjp = CORRECT["linear"][1]
    assert check_vjp(strict_linear, vjp, [((4, 3), (2, 3))],
                     refuses=[(((4, 3), (2, 5)), ShapeError)])
    report = check_vjp(add_bias_forward, lambda g, out, x, b: (g, g.sum(0)), [((4, 3), (3,))],
                       refuses=[(((4, 3), (3,)), ValueError)])
    (problem,) = report.problems
    assert problem.check == "refuses" and "should raise ValueError" in problem.message


def test_check_op_command_grades_a_file(tmp_path, capsys):
    from chainrule.cli import main

    good = tmp_path / "square.py"
    good.write_text("def forward(x):\n    return x * x\n\n"
                    "def vjp(g, out, x):\n    return g * 2 * x\n\n"
                    "samples = [((5,),), ((2, 3),)]\n")
    assert main(["check-op", str(good)]) == 0
    assert "correct on 2 sample(s)" in capsys.readouterr().out

    bad = tmp_path / "half.py"
    bad.write_text(good.read_text().replace("g * 2 * x", "g * x"))
    assert main(["check-op", str(bad)]) == 1
    assert "first order" in capsys.readouterr().out

    incomplete = tmp_path / "nothing.py"
    incomplete.write_text("def forward(x):\n    return x\n")
    assert main(["check-op", str(incomplete)]) == 2
    assert "defines no 'vjp'" in capsys.readouterr().err

    one_shape = tmp_path / "one_shape.py"
    one_shape.write_text(good.read_text().replace("samples = [((5,),), ((2, 3),)]", "samples = 5"))
    assert main(["check-op", str(one_shape)]) == 2
    assert "samples must be a list of tuples of shapes, e.g. [((5,),), ((2, 3),)], not 5" in \
        capsys.readouterr().err


def test_check_op_says_before_checking_that_a_large_sample_will_take_long(tmp_path, capsys):
    from chainrule.cli import main

    op = tmp_path / "square.py"
    # the forward refuses large inputs, so that the test ends as soon as the notices are out
    op.write_text("import numpy\n\n"
                  "def forward(x):\n"
                  "    if x.size > 100:\n        raise ValueError('too long for a test')\n"
                  "    return x * x\n\n"
                  "def vjp(g, out, x):\n    return g * 2 * x\n\n"
                  "samples = [((5,),), ((100, 100),), ((200, 60),),\n"
                  "           [numpy.zeros((5, 5)), (20, 20)]]\n")
    assert main(["check-op", str(op)]) == 1
    # (100, 100), 10,000 elements, is the largest sample said nothing of
    assert capsys.readouterr().err.splitlines() == [
        "chainrule check-op: sample 2 has 12,000 input elements; finite differences evaluate the "
        "op twice for each (and its VJP, for the second order), which may take very long: small "
        "shapes such as (5,) or (2, 3) check the same formulas"]
