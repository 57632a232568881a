"""A small expression language for explaining backpropagation on a formula.

Numbers, variables, ``+ - * / **`` (``^`` also means power), unary minus, parentheses, and the
engine's elementwise functions. A formula may be written as named steps, as the lecture writes
its examples: ``z = w*x + b; y = sigmoid(z); L = 0.5*(y - t)**2``. Each step is one node of the
graph, named as written; a name used twice is that one node with two children. The last step is
the output. The variables are the names no step defines.

A hand-written tokenizer and a recursive-descent parser (precedence climbing for the binary
operators) read it; ``evaluate`` computes it with chainrule in float64, each variable a named
leaf, ready for ``chainrule.explain``. Every variable requires grad except those named as data
(``data=("x", "t")``): an input or a label is given a value but gets no gradient. No name is
data by default: the lecture's t is the label in its univariate example and the variable of
differentiation in its multivariate one. A step computed from data alone gets no gradient either,
yet the forward table of ``chainrule.explain`` lists it, op and parents, as any other step; a
step that is a number (``s = 2``) is listed as a constant, not as an input given a value.

Precedence, lowest first, as in Python: ``+ -`` · ``* /`` · unary ``-`` · ``**`` (right to
left, so ``-x ** 2`` is ``-(x ** 2)`` and ``2 ** 3 ** 2`` is ``2 ** 9``).
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from .errors import ChainruleError

# name -> how many arguments it takes
FUNCTIONS = {"exp": 1, "log": 1, "sqrt": 1, "abs": 1, "sin": 1, "cos": 1, "tanh": 1,
             "sigmoid": 1, "relu": 1, "erf": 1, "gelu": 1, "maximum": 2, "minimum": 2}
BINARY = {"+": 1, "-": 1, "*": 2, "/": 2}  # precedence of the left-associative operators
OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
             "**": operator.pow}

class ExpressionError(ChainruleError):
    """A mistake in the expression: one line naming the column, then the expression and a caret."""

    def __init__(self, message: str, text: str, column: int):
        self.message, self.text, self.column = message, text, column
        super().__init__(f"column {column}: {message}\n    {text}\n    {' ' * (column - 1)}^")


# ---------------------------------------------------------------- tokens
@dataclass
class Token:
    kind: str  # "number", "name", "op" or "end"
    text: str
    column: int  # 1-based


TOKEN = re.compile(r"(?P<space>\s+)|(?P<number>(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)"
                   r"|(?P<name>[A-Za-z_]\w*)|(?P<op>\*\*|[-+*/^(),=;])")


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None:
            raise ExpressionError(f"unexpected character {text[position]!r}", text, position + 1)
        if match.lastgroup != "space":
            kind = match.lastgroup
            token_text = "**" if match.group() == "^" else match.group()
            tokens.append(Token(kind, token_text, position + 1))
        position = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


# ---------------------------------------------------------------- syntax tree
@dataclass
class Number:
    value: float
    column: int


@dataclass
class Variable:
    name: str
    column: int


@dataclass
class Negate:
    operand: object
    column: int


@dataclass
class Binary:
    op: str
    left: object
    right: object
    column: int


@dataclass
class Call:
    function: str
    arguments: list
    column: int


@dataclass
class Step:
    """One step of a formula: ``name = expression``; the last may be a bare expression."""
    name: str | None
    expression: object
    column: int  # of the name, or of the expression when there is none


class Parser:
    """program    := step (";" step)*
    step       := NAME "=" expression | expression
    expression := unary (("+" | "-" | "*" | "/") unary)*   by precedence climbing
    unary      := ("-" | "+") unary | power
    power      := primary ("**" unary)?
    primary    := NUMBER | NAME | NAME "(" expression ("," expression)* ")" | "(" expression ")"
    """

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.position = 0

    def parse(self) -> list[Step]:
        if self.peek().kind == "end":
            raise ExpressionError("the expression is empty", self.text, 1)
        steps = [self.step()]
        while self.peek().text == ";":
            self.advance()
            if self.peek().kind != "end":  # a trailing ";" is fine
                steps.append(self.step())
        return steps

    def step(self) -> Step:
        first = self.peek()
        name = None
        if first.kind == "name" and self.tokens[self.position + 1].text == "=":
            if first.text in FUNCTIONS:
                raise ExpressionError(f"{first.text} is a function; name the step something "
                                      "else", self.text, first.column)
            name = first.text
            self.position += 2
        tree = self.expression(1)
        token = self.peek()
        if token.kind != "end" and token.text != ";":
            if token.text == ")":
                raise ExpressionError("unbalanced parenthesis: this ')' has no '(' to close",
                                      self.text, token.column)
            if token.text == "=":
                raise ExpressionError("'=' names a step and comes right after its name, as in "
                                      "z = w*x + b; steps are separated by ';'", self.text,
                                      token.column)
            raise ExpressionError(f"expected an operator before {token.text!r}", self.text,
                                  token.column)
        return Step(name, tree, first.column)

    def peek(self) -> Token:
        return self.tokens[self.position]

    def advance(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expression(self, min_precedence: int):
        left = self.unary()
        while True:
            token = self.peek()
            precedence = BINARY.get(token.text, 0) if token.kind == "op" else 0
            if precedence < min_precedence:
                return left
            self.advance()
            # left-associative: the right operand binds only tighter operators (a - b - c)
            right = self.expression(precedence + 1)
            left = Binary(token.text, left, right, token.column)

    def unary(self):
        token = self.peek()
        if token.kind == "op" and token.text in "+-":
            self.advance()
            operand = self.unary()
            return operand if token.text == "+" else Negate(operand, token.column)
        return self.power()

    def power(self):
        base = self.primary()
        token = self.peek()
        if token.text == "**" and token.kind == "op":
            self.advance()
            return Binary("**", base, self.unary(), token.column)  # right-associative
        return base

    def primary(self):
        token = self.advance()
        if token.kind == "number":
            return Number(float(token.text), token.column)
        if token.kind == "name":
            if self.peek().text == "(":
                return self.call(token)
            if token.text in FUNCTIONS:
                raise ExpressionError(f"{token.text} is a function: write {token.text}(...)",
                                      self.text, token.column)
            return Variable(token.text, token.column)
        if token.text == "(":
            inner = self.expression(1)
            self.close(token)
            return inner
        if token.kind == "end":
            raise ExpressionError("the expression ends too early: expected a number, a variable "
                                  "or '('", self.text, token.column)
        if token.text == ")":
            raise ExpressionError("unbalanced parenthesis: this ')' has no '(' to close",
                                  self.text, token.column)
        raise ExpressionError(f"expected a number, a variable or '(' but found {token.text!r}",
                              self.text, token.column)

    def call(self, name: Token) -> Call:
        if name.text not in FUNCTIONS:
            raise ExpressionError(f"unknown function {name.text!r}; the functions are "
                                  f"{', '.join(sorted(FUNCTIONS))}", self.text, name.column)
        opening = self.advance()
        arguments = [self.expression(1)]
        while self.peek().text == ",":
            self.advance()
            arguments.append(self.expression(1))
        self.close(opening)
        wanted = FUNCTIONS[name.text]
        if len(arguments) != wanted:
            raise ExpressionError(f"{name.text} takes {wanted} argument{'s' * (wanted > 1)}, "
                                  f"not {len(arguments)}", self.text, name.column)
        return Call(name.text, arguments, name.column)

    def close(self, opening: Token) -> None:
        token = self.peek()
        if token.text == ")":
            self.advance()
            return
        if token.kind == "end":
            raise ExpressionError("unbalanced parenthesis: this '(' is never closed", self.text,
                                  opening.column)
        raise ExpressionError(f"expected ')' or an operator but found {token.text!r}", self.text,
                              token.column)


def parse(text: str) -> list[Step]:
    """The steps of ``text``, checked: each name defined once, before it is used, and used.

    A mistake is an ExpressionError naming the column.
    """
    try:
        steps = Parser(text).parse()
    except RecursionError:  # the parser recurses once per level of nesting
        raise ExpressionError("the expression is nested too deeply", text, 1) from None
    defined: dict[str, int] = {}
    used: set[str] = set()
    for index, step in enumerate(steps):
        if step.name is None and index < len(steps) - 1:
            raise ExpressionError("only the last step may be left unnamed (the others are used "
                                  "by name): write NAME = ...", text, step.column)
        if step.name is not None and isinstance(step.expression, Variable):
            raise ExpressionError(f"{step.name} = {step.expression.name} would only give "
                                  f"{step.expression.name} a second name; a step computes "
                                  "something", text, step.column)
        for variable in _variables_in(step.expression):
            if variable.name in defined or variable.name == step.name:
                if variable.name not in defined:
                    raise ExpressionError(f"{variable.name} is used in its own step; each name "
                                          "is one node, defined once", text, variable.column)
                used.add(variable.name)
            elif any(later.name == variable.name for later in steps[index:]):
                raise ExpressionError(f"{variable.name} is used before its step defines it",
                                      text, variable.column)
        if step.name in defined:
            raise ExpressionError(f"{step.name} is already defined (column "
                                  f"{defined[step.name]}); each name is one node, so give this "
                                  "step another name", text, step.column)
        if step.name is not None:
            defined[step.name] = step.column
    for step in steps[:-1]:
        if step.name not in used:
            raise ExpressionError(f"the step {step.name} is never used; only the last step is "
                                  "the output", text, step.column)
    return steps


def _variables_in(tree) -> list[Variable]:
    """Every use of a name in ``tree``, left to right."""
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Variable):
            found.append(node)
        elif isinstance(node, Negate):
            stack.append(node.operand)
        elif isinstance(node, Binary):
            stack.extend([node.left, node.right])
        elif isinstance(node, Call):
            stack.extend(node.arguments)
    return sorted(found, key=lambda variable: variable.column)


# ---------------------------------------------------------------- evaluation
def variables_of(steps: list[Step]) -> dict[str, int]:
    """Each variable (a name no step defines) and the column of its first use, left to right."""
    defined = {step.name for step in steps}
    found: dict[str, int] = {}
    for step in steps:
        for variable in _variables_in(step.expression):
            if variable.name not in defined:
                found.setdefault(variable.name, variable.column)
    return found


def evaluate(text: str, values: dict[str, float], wrt=None, data=()):
    """Parse and compute ``text`` with chainrule in float64; the output is the last step.

    Each variable becomes a named leaf, and each named step the node it computes, under its
    name. ``data`` names the variables that are data (an input x, a label t): leaves without a
    gradient. ``wrt`` instead names the ones that require grad; by default every variable not in
    ``data`` does. A value for a name the formula does not use is fine; a used variable without
    a value is an error, and so is a value for a name a step computes.
    """
    import numpy

    import chainrule
    from chainrule.explain_forward import made_by, record_from_data, record_number
    from chainrule.nn import functional

    steps = parse(text)
    used = variables_of(steps)
    for name, column in used.items():
        if name not in values:
            raise ExpressionError(f"variable {name!r} has no value; give it with "
                                  f"values={{{name!r}: VALUE}}", text, column)
    for step in steps:
        if step.name in values:
            raise ExpressionError(f"{step.name} is computed by its step, so it cannot also be "
                                  "given a value", text, step.column)
    if not used:
        raise ChainruleError("the expression has no variables, so there is nothing to "
                             "differentiate; write one, such as x, and give its value with "
                             "values={'x': VALUE}")
    data = list(data)
    steps_named = {step.name for step in steps}
    for argument, names in (("wrt", wrt or []), ("data", data)):
        for name in names:
            if name in steps_named:
                raise ChainruleError(f"{argument}={[name]}: {name} is computed by a step; "
                                     f"{argument}= names variables ({', '.join(used)})")
            if name not in used:
                raise ChainruleError(f"{argument}={[name]}: the expression has no variable "
                                     f"{name!r} (its variables are {', '.join(used)})")
    both = sorted(set(wrt or []) & set(data))
    if both:
        raise ChainruleError(f"{', '.join(both)}: named both in wrt= and in data=; data gets "
                             "no gradient")
    wrt = [name for name in used if name not in data] if wrt is None else wrt
    nodes = {}
    for name in used:
        leaf = chainrule.tensor(values[name], dtype=chainrule.float64,
                                requires_grad=name in wrt)
        leaf.name = name
        nodes[name] = leaf
    functions = {name: getattr(chainrule, name) for name in FUNCTIONS if name != "gelu"}
    functions["gelu"] = functional.gelu

    def compute(node):
        # An op on data alone (s = x*x with x data) is kept for explain's forward table; it still
        # gets no gradient
        if isinstance(node, Number):
            return chainrule.tensor(node.value, dtype=chainrule.float64)
        if isinstance(node, Variable):
            return nodes[node.name]
        if isinstance(node, Negate) and isinstance(node.operand, Number):
            # -2 is a number, written in place as 2 is, not a step neg(2)
            return chainrule.tensor(-node.operand.value, dtype=chainrule.float64)
        if isinstance(node, Negate):
            return record_from_data(operator.neg, compute(node.operand))
        if isinstance(node, Call):
            return record_from_data(functions[node.function],
                                    *[compute(argument) for argument in node.arguments])
        return record_from_data(OPERATORS[node.op], compute(node.left), compute(node.right))

    with numpy.errstate(all="ignore"):  # log(-1) is nan in the table, not a warning
        for step in steps:
            output = compute(step.expression)
            if step.name is not None:
                output.name = step.name
                nodes[step.name] = output
                if made_by(output) is None:  # s = 2: a number written, not a value given
                    record_number(output)
    if not output.requires_grad:
        raise ChainruleError("none of the variables the expression uses requires grad; "
                             "name them with wrt=")
    if output.name is None:
        output.name = "out" if "f" in nodes else "f"
    return output
