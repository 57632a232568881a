"""A small expression language for explaining backpropagation on a formula.

Numbers, variables, ``+ - * / **`` (``^`` also means power), unary minus, parentheses, and the
engine's elementwise functions. A hand-written tokenizer and a recursive-descent parser
(precedence climbing for the binary operators) read it; ``evaluate`` computes it with chainrule
in float64, each variable a named leaf that requires grad, ready for ``chainrule.explain``.

Precedence, lowest first, as in Python: ``+ -`` · ``* /`` · unary ``-`` · ``**`` (right to
left, so ``-x ** 2`` is ``-(x ** 2)`` and ``2 ** 3 ** 2`` is ``2 ** 9``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ChainruleError

# name -> how many arguments it takes
FUNCTIONS = {"exp": 1, "log": 1, "sqrt": 1, "abs": 1, "sin": 1, "cos": 1, "tanh": 1,
             "sigmoid": 1, "relu": 1, "erf": 1, "gelu": 1, "maximum": 2, "minimum": 2}
BINARY = {"+": 1, "-": 1, "*": 2, "/": 2}  # precedence of the left-associative operators

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
                   r"|(?P<name>[A-Za-z_]\w*)|(?P<op>\*\*|[-+*/^(),])")


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


class Parser:
    """expression := unary (("+" | "-" | "*" | "/") unary)*   by precedence climbing
    unary      := ("-" | "+") unary | power
    power      := primary ("**" unary)?
    primary    := NUMBER | NAME | NAME "(" expression ("," expression)* ")" | "(" expression ")"
    """

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.position = 0

    def parse(self):
        if self.peek().kind == "end":
            raise ExpressionError("the expression is empty", self.text, 1)
        tree = self.expression(1)
        token = self.peek()
        if token.kind != "end":
            if token.text == ")":
                raise ExpressionError("unbalanced parenthesis: this ')' has no '(' to close",
                                      self.text, token.column)
            raise ExpressionError(f"expected an operator before {token.text!r}", self.text,
                                  token.column)
        return tree

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


def parse(text: str):
    """The syntax tree of ``text``, or an ExpressionError naming the column."""
    try:
        return Parser(text).parse()
    except RecursionError:  # the parser recurses once per level of nesting
        raise ExpressionError("the expression is nested too deeply", text, 1) from None


# ---------------------------------------------------------------- evaluation
def variables_of(tree) -> dict[str, int]:
    """Each variable's name and the column of its first use, left to right."""
    found: dict[str, int] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Variable):
            if node.name not in found or node.column < found[node.name]:
                found[node.name] = node.column
        elif isinstance(node, Negate):
            stack.append(node.operand)
        elif isinstance(node, Binary):
            stack.extend([node.left, node.right])
        elif isinstance(node, Call):
            stack.extend(node.arguments)
    return dict(sorted(found.items(), key=lambda item: item[1]))


def evaluate(text: str, values: dict[str, float], wrt=None):
    """Parse and compute ``text`` with chainrule in float64.

    Each variable becomes a named leaf; those in ``wrt`` (all by default) require grad. A
    variable given a value but not used is fine; a used one without a value is an error.
    """
    import numpy

    import chainrule
    from chainrule.nn import functional

    tree = parse(text)
    used = variables_of(tree)
    for name, column in used.items():
        if name not in values:
            raise ExpressionError(f"variable {name!r} has no value; give it with --at "
                                  f"{name}=VALUE", text, column)
    if not used:
        raise ChainruleError("the expression has no variables, so there is nothing to "
                             "differentiate; write one and give its value with --at")
    wrt = list(used) if wrt is None else wrt
    for name in wrt:
        if name not in used:
            raise ChainruleError(f"--wrt {name}: the expression has no variable {name!r} "
                                 f"(it uses {', '.join(used)})")
    leaves = {}
    for name in used:
        leaf = chainrule.tensor(values[name], dtype=chainrule.float64,
                                requires_grad=name in wrt)
        leaf.name = name
        leaves[name] = leaf
    functions = {name: getattr(chainrule, name) for name in FUNCTIONS if name != "gelu"}
    functions["gelu"] = functional.gelu

    def compute(node):
        if isinstance(node, Number):
            return chainrule.tensor(node.value, dtype=chainrule.float64)
        if isinstance(node, Variable):
            return leaves[node.name]
        if isinstance(node, Negate):
            return -compute(node.operand)
        if isinstance(node, Call):
            return functions[node.function](*[compute(argument) for argument in node.arguments])
        left, right = compute(node.left), compute(node.right)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        if node.op == "/":
            return left / right
        return left ** right

    with numpy.errstate(all="ignore"):  # log(-1) is nan in the table, not a warning
        output = compute(tree)
    if not output.requires_grad:
        raise ChainruleError("none of the variables the expression uses requires grad; "
                             "name them with --wrt")
    if output.name is None:
        output.name = "out" if "f" in used else "f"
    return output
