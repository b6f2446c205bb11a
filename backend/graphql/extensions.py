"""GraphQL hardening: limits, error masking, introspection off outside development, caches.

Each limit answers one of the graphql-cop checks that default Strawberry fails: alias and
directive overloading, deep nesting, huge documents, introspection and field suggestions in
production, and exception text leaking to clients.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    DirectiveNode,
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    ValidationContext,
    ValidationRule,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)
from strawberry.types import ExecutionContext

from backend.auth.viewer import Viewer
from backend.graphql.cost import CostMeasure
from backend.graphql.limits import document_limits_rule
from backend.graphql.operations import TrustedDocuments, sha256, trusted_documents
from backend.idempotency import KeyTakenError
from backend.kit.errors import ServiceError
from backend.kit.outages import outage_log, unavailable
from backend.observability import request_id_var, unavailable_error
from backend.settings import Settings

logger = logging.getLogger("eic.graphql")
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def max_directives_rule(limit: int) -> type[ValidationRule]:
    class MaxDirectives(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            self.count += 1
            if self.count == limit + 1:
                self.report_error(GraphQLError(f"More than {limit} directives in one document"))

    return MaxDirectives


def max_operations_rule(limit: int) -> type[ValidationRule]:
    class MaxOperations(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            operations = [
                d for d in context.document.definitions if isinstance(d, OperationDefinitionNode)
            ]
            if len(operations) > limit:
                self.report_error(GraphQLError(f"More than {limit} operations in one document"))

    return MaxOperations


class _Kept:
    """What was worked out about one parsed document, found by the document's identity.

    The parser cache hands the same document object to every request with the same text, so
    its identity is a key that costs nothing; Strawberry's ValidationCache keyed an lru_cache on
    the document itself, whose hash and equality walk the whole tree on every request (~3 % of
    a sync page's CPU). The entry holds the document, so its id stays its own."""

    __slots__ = ("costs", "document", "validations", "variables_read")

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        # Errors by schema and rules (a schema's options change its messages and rules).
        self.validations: dict[tuple[Any, ...], list[GraphQLError]] = {}
        # The cost's variables (``first: $n``) read by the estimate, and the cost per value.
        self.variables_read: tuple[str, ...] | None = None
        self.costs: dict[tuple[Any, ...], int] = {}


class DocumentFacts:
    """The most recent documents' validation results and costs (bounded, oldest out)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.kept: OrderedDict[int, _Kept] = OrderedDict()

    def of(self, document: DocumentNode) -> _Kept:
        key = id(document)
        found = self.kept.get(key)
        if found is not None and found.document is document:
            self.kept.move_to_end(key)
            return found
        found = self.kept[key] = _Kept(document)
        if len(self.kept) > self.maxsize:
            self.kept.popitem(last=False)
        return found


# One for every schema of the process: entries are per document object, and a document is
# validated against the schema it came with (the rules are compared too).
_facts = DocumentFacts(maxsize=512)


class ValidationCache(SchemaExtension):
    """Validation remembered per parsed document (see :class:`_Kept`) and set of rules."""

    def __init__(self) -> None:
        super().__init__()
        self.facts = _facts

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is None:
            yield
            return
        kept = self.facts.of(document)
        schema = context.schema._schema
        rules = tuple(context.validation_rules)
        key = (schema, *rules)
        errors = kept.validations.get(key)
        if errors is None:
            errors = kept.validations[key] = validate(schema, document, rules)
        context.pre_execution_errors = errors
        yield


class _VariablesRead(Mapping[str, Any]):
    """The request's variables, noting which the cost estimate reads."""

    def __init__(self, variables: Mapping[str, Any] | None) -> None:
        self.variables = variables or {}
        self.read: list[str] = []

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.read.append(name)
        return name in self.variables

    def __getitem__(self, name: str) -> Any:
        self.read.append(name)
        return self.variables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.variables)

    def __len__(self) -> int:
        return len(self.variables)


def _page_value(variables: Mapping[str, Any] | None, name: str) -> Any:
    """What the cost estimate makes of a variable (backend/graphql/cost.py ``_page_size``):
    a number counts as itself, anything else as the field's default, absence as absence."""
    if variables is None or name not in variables:
        return ("absent",)
    value = variables[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ("other",)
    return value


def cost_of(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
) -> int:
    """:class:`CostMeasure`'s estimate, remembered per document, operation and the values of
    the variables it reads (the page sizes): the walk depends on nothing else."""
    kept = _facts.of(document)
    names = kept.variables_read
    key: tuple[Any, ...] | None = None
    if names is not None:
        key = (schema, id(operation), *(_page_value(variables, name) for name in names))
        found = kept.costs.get(key)
        if found is not None:
            return found
    reads = _VariablesRead(variables)
    cost = CostMeasure(schema, document, reads).of(operation)
    if names is None:
        kept.variables_read = names = tuple(dict.fromkeys(reads.read))
        key = (schema, id(operation), *(_page_value(variables, name) for name in names))
    if len(kept.costs) < 64 and key is not None:  # a few page sizes per document
        kept.costs[key] = cost
    return cost


class TrustedOnlyValidation(ValidationCache):
    """Validation (cached) of the manifest's documents only (EIC_TRUSTED_OPERATIONS_ONLY).

    Any other document is refused before a single validation rule runs, whichever way it
    reached the schema: HTTP, or the WebSocket's subscribe messages, which no HTTP middleware
    sees. A rule among the others would have let a costly document be validated first."""

    def __init__(self, documents: Callable[[], TrustedDocuments]) -> None:
        super().__init__()
        self.documents = documents

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        # a manifest's document as it is, or with __typename selections added (Apollo's form)
        if not self.documents().is_trusted(context.query):
            context.pre_execution_errors = [
                GraphQLError(
                    "This server runs only the apps' operations: send the operation's id "
                    "(its SHA-256 in clients/operations/manifest.json)",
                    extensions={"code": "OPERATION_NOT_TRUSTED"},
                )
            ]
            yield
            return
        yield from super().on_validate()


class QueryCostLimit(SchemaExtension):
    """Refuses an operation whose estimated cost (:mod:`backend.graphql.cost`) is over the
    caller's budget, before it runs, and tells the caller of every query and mutation what it
    cost.

    The estimate runs after validation, not as a validation rule: validation results are cached
    per document, and the cost depends on the request's variables (``first: $first``) and on who
    asks. It runs for every way an operation arrives (HTTP, a persisted id, a WebSocket
    subscribe), since all of them validate through the schema."""

    def __init__(self, *, anonymous: int, signed_in: int) -> None:
        super().__init__()
        self.budgets = {False: anonymous, True: signed_in}
        self.cost: int | None = None
        self.limit = anonymous
        self.refused = False
        self.subscription = False

    def on_validate(self) -> Iterator[None]:
        self._estimate()
        yield

    def _estimate(self) -> None:
        # Strawberry reads the validation errors before the hooks resume after their yield, so
        # the refusal is made before it, once the validation cache (an extension listed before
        # this one) has validated. Without one, validate here: the refusal must not depend on
        # the extensions' order, and Strawberry skips its own validation when errors are set.
        context = self.execution_context
        document = context.graphql_document
        if document is None:
            return
        if context.pre_execution_errors is None:
            context.pre_execution_errors = validate(
                context.schema._schema, document, context.validation_rules
            )
        if context.pre_execution_errors:
            return  # refused already: nothing will run
        operation = get_operation_ast(document, context.operation_name)
        if operation is None:
            return  # Strawberry answers the missing operation
        self.subscription = operation.operation is OperationType.SUBSCRIPTION
        signed_in = isinstance(getattr(context.context, "viewer", None), Viewer)
        self.limit = self.budgets[signed_in]
        try:
            self.cost = cost_of(context.schema._schema, document, operation, context.variables)
        except RecursionError:  # validation refuses such documents first; never run one
            self.cost = self.limit + 1
        if self.cost > self.limit:
            self.refused = True
            callers = "signed-in" if signed_in else "anonymous"
            context.pre_execution_errors = [
                GraphQLError(
                    f"This query costs {self.cost:,}, over the limit of {self.limit:,} for "
                    f"{callers} callers: ask for smaller pages or fewer fields",
                    extensions={"code": "QUERY_TOO_COSTLY", "cost": self.cost, "limit": self.limit},
                )
            ]

    def get_results(self) -> dict[str, Any]:
        # A subscription's events are pushed to every reader of a thread: they stay lean, and
        # only a refused subscribe says what it cost.
        if self.cost is None or (self.subscription and not self.refused):
            return {}
        return {"cost": {"requested": self.cost, "limit": self.limit}}


def _is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    # KeyTakenError: a copy of an idempotent request stops; the middleware answers it with the
    # first request's stored answer, so it is no fault to log
    return original is None or isinstance(original, ServiceError | GraphQLError | KeyTakenError)


class MaskUnexpectedErrors(MaskErrors):
    """Expected errors keep their text and gain ``extensions.code``; anything else is masked.

    The masked error carries the request id; the log line with the same id has the traceback.
    An outage (the database or Redis away, a full or read-only disk) is masked as the retryable
    ``SERVICE_UNAVAILABLE`` with ``retryAfter``, logged once per interval, not per request; the
    answer stays HTTP 200 like every GraphQL result (other fields of the same operation may have
    data), and only requests that fail before GraphQL runs are answered 503.
    """

    def __init__(self, *, hide_suggestions: bool) -> None:
        super().__init__(should_mask_error=lambda error: not _is_expected(error))
        self.hide_suggestions = hide_suggestions

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = request_id_var.get()
        original = error.original_error or error
        service = unavailable(original)
        if service is not None:
            outage_log.failed(service, "graphql", original)
            message, extensions = unavailable_error(service, request_id)
            return GraphQLError(
                message=message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions=extensions,
            )
        logger.error("unexpected error in %s", error.path, exc_info=original)
        return GraphQLError(
            message=f"Internal server error (request id {request_id})",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )

    def _process_result(self, result: object) -> None:
        # Strawberry's test is isinstance() of a runtime Protocol, which walks the protocol's
        # members every request (~1.5 % of a small page); the results it masks all carry
        # ``errors``, falsy when there are none.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = []
        for error in super()._process_errors(errors):
            original = error.original_error
            if isinstance(original, ServiceError):
                problem = original.problems[0]
                error.extensions = {
                    **(error.extensions or {}),
                    "code": problem.code.value,
                    "field": problem.field,
                }
                if problem.retry_after is not None:
                    error.extensions["retryAfter"] = problem.retry_after
            elif original is None and not (error.extensions or {}).get("code"):
                # Parser and validation errors (limits included), so apps can tell them apart.
                failed = "PARSE" if error.message.startswith("Syntax Error") else "VALIDATION"
                error.extensions = {**(error.extensions or {}), "code": f"GRAPHQL_{failed}_FAILED"}
            if self.hide_suggestions and "Did you mean" in error.message:
                # Strawberry's disable_field_suggestions only covers unknown fields; arguments,
                # types, input fields and enum values leak schema names too.
                error.message = _SUGGESTION.sub("", error.message)
            processed.append(error)
        return processed


class Schema(strawberry.Schema):
    """Strawberry's schema, whose error log leaves outages to the outage log.

    Strawberry logs every error of every result with its traceback; during a database outage
    that is one traceback per request (8 MB of log for 587 requests in 30 s).
    :class:`MaskUnexpectedErrors` reports an outage to :data:`backend.kit.outages.outage_log`
    instead, which logs it once per interval."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        others = [e for e in errors if e.original_error is None or not unavailable(e)]
        super().process_errors(others, execution_context)


@dataclass(frozen=True)
class SchemaOptions:
    """The settings a schema is built from: two apps with equal options share one schema."""

    max_depth: int
    max_aliases: int
    max_tokens: int
    max_directives: int
    max_operations: int
    max_cost_anonymous: int
    max_cost_signed_in: int
    introspection: bool
    trusted_operations_only: bool
    development: bool
    # backend/graphql/observer.py (JSON logs or metrics) and backend/tracing.py (traces)
    observe: bool = False
    tracing: bool = False

    @classmethod
    def of(cls, settings: Settings) -> SchemaOptions:
        return cls(
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            max_tokens=settings.graphql_max_tokens,
            max_directives=settings.graphql_max_directives,
            max_operations=settings.graphql_max_operations,
            max_cost_anonymous=settings.graphql_max_cost_anonymous,
            max_cost_signed_in=settings.graphql_max_cost_signed_in,
            introspection=settings.introspection_enabled,
            trusted_operations_only=settings.trusted_operations_only,
            development=settings.is_development,
            observe=settings.metrics_enabled or settings.log_format == "json",
            tracing=settings.tracing_on,
        )


@cache
def limit_rules(options: SchemaOptions) -> tuple[type[ASTValidationRule], ...]:
    """The schema's own validation rules (the limits), made once per set of options: the
    ValidationCache keys on the rule classes, and the stock QueryDepthLimiter /
    MaxAliasesLimiter make a new class per request, which made every request miss the cache
    and validate again (13 ms of a 40 ms search on SQLite)."""
    rules: tuple[type[ASTValidationRule], ...] = (
        # Strawberry's QueryDepthLimiter and MaxAliasesLimiter walk a fragment again at each
        # spread (exponential in a fan-out document); this rule measures each fragment once.
        document_limits_rule(options.max_depth, options.max_aliases),
        max_directives_rule(options.max_directives),
        max_operations_rule(options.max_operations),
    )
    if not options.introspection:
        rules += (NoSchemaIntrospectionCustomRule,)
    return rules


# Fields of one response name in one selection set (its fragments' fields included) that a
# document kept as an automatic persisted query may have. graphql-core compares every pair of
# them (OverlappingFieldsCanBeMerged): 500 repeats of one field cost 82 ms to admit, 120 cost
# 9.5 ms. With the count bounded the comparisons grow with the document, not its square. The
# apps' own documents repeat a name at most a few times (a field in a fragment and beside it).
MAX_REPEATED_FIELDS = 16


def most_repeated_field(document: DocumentNode, *, stop_above: int) -> int:
    """The most fields of one response name in any one selection set, as graphql-core collects
    them (inline fragments and each named fragment once); counting stops above ``stop_above``.
    Iterative: it runs before validation, on documents nested as deep as their tokens allow."""
    fragments = {
        definition.name.value: definition.selection_set
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    sets = [
        definition.selection_set
        for definition in document.definitions
        if isinstance(definition, ExecutableDefinitionNode)
    ]
    most = 0
    while sets:
        counts: Counter[str] = Counter()
        spread: set[str] = set()
        pending = [sets.pop()]
        while pending:
            for selection in pending.pop().selections:
                if isinstance(selection, FieldNode):
                    name = (selection.alias or selection.name).value
                    counts[name] += 1
                    most = max(most, counts[name])
                    if most > stop_above:
                        return most
                    if selection.selection_set is not None:
                        sets.append(selection.selection_set)
                elif isinstance(selection, InlineFragmentNode):
                    pending.append(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name not in spread and name in fragments:
                        spread.add(name)
                        pending.append(fragments[name])
    return most


class Admission:
    """Whether a document may be kept as an automatic persisted query: it parses within the
    token limit, passes every limit rule (depth, aliases, directives, operations,
    introspection), repeats no field more than :data:`MAX_REPEATED_FIELDS` times, and then
    passes the schema's validation, so that no stored document is one the schema would refuse.
    Each run of a stored document is validated and costed again as any other.

    The cheap checks go first, so a document's full validation costs time linear in its size;
    verdicts are remembered by the document's SHA-256 (an app sends the same few again)."""

    VERDICTS_KEPT = 1024

    def __init__(self, schema: GraphQLSchema, options: SchemaOptions) -> None:
        self.schema = schema
        self.max_tokens = options.max_tokens
        self.limits = limit_rules(options)
        self.verdicts: OrderedDict[str, bool] = OrderedDict()

    def __call__(self, document: str) -> bool:
        digest = sha256(document)
        verdict = self.verdicts.get(digest)
        if verdict is not None:
            self.verdicts.move_to_end(digest)
            return verdict
        verdict = self.verdicts[digest] = self._admits(document)
        if len(self.verdicts) > self.VERDICTS_KEPT:
            self.verdicts.popitem(last=False)
        return verdict

    def _admits(self, document: str) -> bool:
        try:
            parsed = parse(document, no_location=True, max_tokens=self.max_tokens)
        except GraphQLError:
            return False
        return (
            not validate(self.schema, parsed, self.limits)
            and most_repeated_field(parsed, stop_above=MAX_REPEATED_FIELDS) <= MAX_REPEATED_FIELDS
            and not validate(self.schema, parsed, specified_rules)
        )


def admission(schema: GraphQLSchema, options: SchemaOptions) -> Callable[[str], bool]:
    """The check a document passes to be kept as an automatic persisted query
    (:class:`Admission`)."""
    return Admission(schema, options)


def build_extensions(options: SchemaOptions) -> list[Callable[[], SchemaExtension]]:
    rules = limit_rules(options)
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=options.max_tokens),
        lambda: AddValidationRules(list(rules)),
        lambda: MaskUnexpectedErrors(hide_suggestions=not options.development),
        lambda: ParserCache(maxsize=512),
        (lambda: TrustedOnlyValidation(trusted_documents))
        if options.trusted_operations_only
        else ValidationCache,
        # After the validation cache: only valid documents are estimated, untrusted ones never.
        lambda: QueryCostLimit(
            anonymous=options.max_cost_anonymous, signed_in=options.max_cost_signed_in
        ),
    ]
    # First: their operation hooks end last, once the masking has given each error its code.
    # Off, they are not imported, and a request costs nothing more.
    if options.observe:
        from backend.graphql.observer import OperationObserver

        extensions.insert(0, OperationObserver)
    if options.tracing:
        from backend.tracing import OperationSpans

        extensions.insert(0, OperationSpans)
    return extensions
