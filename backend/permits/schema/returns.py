"""Returns, compliance and the authority's report of umbrella permits: types, queries and the
filing mutation (thin resolvers over ``backend.permits.service``'s returns, compliance and
report modules)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from backend.auth.permissions import IsAuthenticated
from backend.graphql.errors import payload_mutation
from backend.graphql.pagination import After, Connection, First, total_count_selected
from backend.graphql.types import Payload, context_of, parse_id, parse_optional_id, signed_in
from backend.kit.money import plain_number
from backend.kit.pagination import PageRequest
from backend.permits.models import PermitMember
from backend.permits.service import compliance, periods, report, returns
from backend.permits.service.compliance import UseStatus

strawberry.enum(
    UseStatus,
    name="PermitUseStatus",
    description="A figure against its limit (a member's allocation, or the cap): OK below "
    "80 %, WARNING from 80 %, OVER from 100 %.",
)

ConditionId = Annotated[
    strawberry.ID, strawberry.argument(description="The permit condition's id.")
]
PermitId = Annotated[strawberry.ID, strawberry.argument(description="The permit's id.")]
PeriodStart = Annotated[
    date,
    strawberry.argument(
        description="The first day of the reporting period (a month's, quarter's or year's "
        "first day, by the condition's frequency, in the cluster's time zone)."
    ),
]
ReportMonth = Annotated[
    date,
    strawberry.argument(
        description="The first day of a month of the permit's validity: each condition "
        "reports for its own period holding that day (a yearly cap, its year)."
    ),
]


def _id(value: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


@strawberry.type(description="A reporting period of a condition.")
class ReportingPeriod:
    start: date = strawberry.field(description="Its first day (its name).")
    end: date = strawberry.field(description="Its last day.")
    due: date = strawberry.field(
        description="The last day a return is on time: the end plus the permit's return due "
        "days. A return whose first version is filed later is late; none by then is missing."
    )

    @classmethod
    def of(cls, period: periods.Period) -> ReportingPeriod:
        return cls(start=period.start, end=period.end, due=period.due)


@strawberry.type(
    name="PermitReturn",
    description="One version of a member's return for a condition and period. Versions are "
    "never edited or deleted: an amendment is the next version, and the latest counts. Figures "
    "are in the condition's unit.",
)
class PermitReturnType:
    id: strawberry.ID = strawberry.field(description="This version's id.")
    condition_id: strawberry.ID = strawberry.field(description="The condition.")
    organisation_id: strawberry.ID = strawberry.field(description="The member filing it.")
    organisation_name: str = strawberry.field(description="The member's name.")
    period: ReportingPeriod = strawberry.field(description="The period it reports on.")
    version: int = strawberry.field(description="1 for the first filing, then 2, 3 ...")
    generated: Decimal = strawberry.field(description="Generated in the period.")
    treated_on_site: Decimal = strawberry.field(description="Treated on the member's site.")
    sent_to_members: Decimal = strawberry.field(
        description="Sent to other members outside the marketplace (typed by the member)."
    )
    sent_through_marketplace: Decimal = strawberry.field(
        description="Sent through the marketplace's completed trades of the condition's waste "
        "stream in the period, as the impact ledger held it when this version was filed "
        "(computed, never typed; 0 for parameters other than a waste stream)."
    )
    sent_to_disposal: Decimal = strawberry.field(
        description="Landfilled, burnt or discharged: the figure the cap and the allocation limit."
    )
    unit_code: str = strawberry.field(description="The condition's unit (UN/ECE Rec 20).")
    note: str = strawberry.field(description="The member's note.")
    filed_at: datetime = strawberry.field(description="When this version was filed.")
    late: bool = strawberry.field(
        description="Whether the return's first version was filed after the due day."
    )

    @classmethod
    def of(cls, view: returns.ReturnView) -> PermitReturnType:
        row = view.row
        return cls(
            id=_id(row.id),
            condition_id=_id(row.condition_id),
            organisation_id=_id(row.organisation_id),
            organisation_name=view.organisation_name,
            period=ReportingPeriod.of(view.period),
            version=row.version,
            generated=plain_number(row.generated),
            treated_on_site=plain_number(row.treated_on_site),
            sent_to_members=plain_number(row.sent_to_members),
            sent_through_marketplace=plain_number(row.sent_through_marketplace),
            sent_to_disposal=plain_number(row.sent_to_disposal),
            unit_code=view.condition.unit_code,
            note=row.note,
            filed_at=row.filed_at,
            late=view.late,
        )


@strawberry.type(description="What the app's return form starts from.")
class PermitReturnDraft:
    condition_id: strawberry.ID = strawberry.field(description="The condition.")
    organisation_id: strawberry.ID = strawberry.field(description="The member (the viewer's).")
    period: ReportingPeriod = strawberry.field(description="The period.")
    unit_code: str = strawberry.field(description="The condition's unit: figures are shown in it.")
    sent_through_marketplace: Decimal = strawberry.field(
        description="What a version filed now would record as sent through the marketplace."
    )
    latest: PermitReturnType | None = strawberry.field(
        description="The latest version filed, to start an amendment from; null before the first."
    )
    expected_version: int = strawberry.field(
        description="The expectedVersion to file with: the latest version, 0 before the first."
    )
    late: bool = strawberry.field(
        description="Whether the return is late: its first version was, or (none yet) a "
        "filing now would be."
    )


@strawberry.input(description="A new version of the viewer's organisation's return.")
class PermitReturnFileInput:
    condition_id: strawberry.ID = strawberry.field(description="The condition.")
    period_start: date = strawberry.field(description="The period's first day.")
    generated: Decimal = strawberry.field(description="Generated in the period, 0 or more.")
    treated_on_site: Decimal = strawberry.field(description="Treated on site, 0 or more.")
    sent_to_members: Decimal = strawberry.field(
        description="Sent to other members outside the marketplace, 0 or more."
    )
    sent_to_disposal: Decimal = strawberry.field(
        description="Landfilled, burnt or discharged, 0 or more."
    )
    unit_code: str = strawberry.field(
        description="The unit of the figures: any mass unit (KGM, TNE ...); they are kept in "
        "the condition's unit, converted as the marketplace converts."
    )
    expected_version: int = strawberry.field(
        description="0 for the first filing, else the latest version (CONFLICT when another "
        "version was filed meanwhile)."
    )
    note: str = strawberry.field(default="", description="A note for the holder and authority.")
    client_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="An id the app makes (a UUID) for this version: a retry with it answers "
        "the version already filed instead of filing again.",
    )

    def to_service(self) -> returns.ReturnFiling:
        return returns.ReturnFiling(
            condition_id=parse_id(self.condition_id, "conditionId"),
            period_start=self.period_start,
            generated=self.generated,
            treated_on_site=self.treated_on_site,
            sent_to_members=self.sent_to_members,
            sent_to_disposal=self.sent_to_disposal,
            unit_code=self.unit_code,
            note=self.note,
            expected_version=self.expected_version,
            client_id=parse_optional_id(self.client_id, "clientId"),
        )


@strawberry.type(description="The result of permitReturnFile.")
class PermitReturnPayload(Payload):
    permit_return: PermitReturnType | None = strawberry.field(
        default=None, description="The version filed."
    )


@strawberry.type(description="Days an organisation was covered by the permit within a period.")
class CoverSpanInPeriod:
    covered_from: date = strawberry.field(description="The first day covered.")
    covered_to: date | None = strawberry.field(description="The last day; null while it lasts.")

    @classmethod
    def of(cls, span: PermitMember) -> CoverSpanInPeriod:
        return cls(covered_from=span.covered_from, covered_to=span.covered_to)


@strawberry.type(description="One member's figure of a period against its allocation.")
class PermitMemberUse:
    organisation_id: strawberry.ID = strawberry.field(description="The member.")
    organisation_name: str = strawberry.field(description="Its name.")
    cover_spans: list[CoverSpanInPeriod] = strawberry.field(
        description="Its cover sharing a day with the period (empty: not covered then, yet it "
        "filed)."
    )
    allocation: Decimal = strawberry.field(
        description="Its allocation as it stood at the period's end (0 if none)."
    )
    sent_to_disposal: Decimal = strawberry.field(
        description="Its latest version's figure; 0 while it has filed none."
    )
    share: Decimal | None = strawberry.field(
        description="sentToDisposal / allocation (1 is 100 %); null when the allocation is 0."
    )
    status: UseStatus = strawberry.field(description="The figure against the allocation.")
    latest_version: int | None = strawberry.field(description="Its latest version; null if none.")
    late: bool = strawberry.field(description="Its first version was filed after the due day.")
    missing: bool = strawberry.field(
        description="It was covered in the period, the due day has passed and it filed nothing."
    )

    @classmethod
    def of(cls, use: compliance.MemberUse) -> PermitMemberUse:
        return cls(
            organisation_id=_id(use.organisation_id),
            organisation_name=use.organisation_name,
            cover_spans=[CoverSpanInPeriod.of(span) for span in use.spans],
            allocation=plain_number(use.allocation),
            sent_to_disposal=plain_number(use.figure),
            share=plain_number(use.share) if use.share is not None else None,
            status=use.status,
            latest_version=use.latest.version if use.latest else None,
            late=use.late,
            missing=use.missing,
        )


@strawberry.type(description="A condition's compliance in one period.")
class PermitConditionCompliance:
    condition_id: strawberry.ID = strawberry.field(description="The condition.")
    title: str = strawberry.field(description="The condition's title.")
    unit_code: str = strawberry.field(description="Its unit (UN/ECE Rec 20).")
    cap: Decimal = strawberry.field(description="The cap per period.")
    period: ReportingPeriod = strawberry.field(description="The period.")
    total: Decimal = strawberry.field(
        description="The consolidated total: the sum of every member's latest sentToDisposal."
    )
    share: Decimal = strawberry.field(description="total / cap (1 is 100 %).")
    status: UseStatus = strawberry.field(description="The total against the cap.")
    returns_filed: int = strawberry.field(description="How many members filed a return.")
    members: list[PermitMemberUse] = strawberry.field(
        description="Every member covered in the period or that filed, by name: for the "
        "holder, the issuing authority and platform admins; a member sees its own row only."
    )

    @classmethod
    def of(cls, found: compliance.ConditionCompliance) -> PermitConditionCompliance:
        condition = found.condition
        return cls(
            condition_id=_id(condition.id),
            title=condition.title,
            unit_code=condition.unit_code,
            cap=plain_number(condition.cap),
            period=ReportingPeriod.of(found.period),
            total=plain_number(found.total),
            share=plain_number(found.share if found.share is not None else Decimal(0)),
            status=found.status,
            returns_filed=found.returns_filed,
            members=[PermitMemberUse.of(use) for use in found.members],
        )


@strawberry.type(description="An organisation covered by the permit in the report's period.")
class PermitReportMember:
    organisation_id: strawberry.ID = strawberry.field(description="The member.")
    organisation_name: str = strawberry.field(description="Its name.")
    cover_spans: list[CoverSpanInPeriod] = strawberry.field(
        description="Its cover sharing a day with the report's period."
    )


@strawberry.type(description="A return that is late or missing.")
class PermitReturnFlag:
    condition_id: strawberry.ID = strawberry.field(description="The condition.")
    condition_title: str = strawberry.field(description="Its title.")
    period_start: date = strawberry.field(description="The period.")
    organisation_id: strawberry.ID = strawberry.field(description="The member.")
    organisation_name: str = strawberry.field(description="Its name.")


def _flags(report_: report.PermitReport, *, late: bool) -> list[PermitReturnFlag]:
    return [
        PermitReturnFlag(
            condition_id=_id(found.condition.id),
            condition_title=found.condition.title,
            period_start=found.period.start,
            organisation_id=_id(use.organisation_id),
            organisation_name=use.organisation_name,
        )
        for found in report_.conditions
        for use in found.members
        if (use.late if late else use.missing)
    ]


@strawberry.type(description="The authority's consolidated report of a permit for a period.")
class PermitReport:
    permit_id: strawberry.ID = strawberry.field(description="The permit.")
    reference: str = strawberry.field(description="The authority's reference of the permit.")
    title: str = strawberry.field(description="The permit's title.")
    holder_name: str = strawberry.field(description="The holder (the cluster association).")
    authority_name: str = strawberry.field(description="The issuing authority.")
    period_start: date = strawberry.field(description="The month asked for.")
    starts_on: date = strawberry.field(description="The first day of the conditions' periods.")
    ends_on: date = strawberry.field(description="The last day of the conditions' periods.")
    members: list[PermitReportMember] = strawberry.field(
        description="The organisations covered on any day from startsOn to endsOn, by name."
    )
    conditions: list[PermitConditionCompliance] = strawberry.field(
        description="Each condition in its period holding periodStart, with every member."
    )
    late_returns: list[PermitReturnFlag] = strawberry.field(
        description="Returns whose first version came after the due day."
    )
    missing_returns: list[PermitReturnFlag] = strawberry.field(
        description="Covered members with no return after the due day."
    )
    generated_at: datetime = strawberry.field(description="When the report was computed.")

    @classmethod
    def of(cls, found: report.PermitReport) -> PermitReport:
        permit = found.permit
        return cls(
            permit_id=_id(permit.id),
            reference=permit.reference,
            title=permit.title,
            holder_name=found.holder_name,
            authority_name=found.authority_name,
            period_start=found.period_start,
            starts_on=found.starts_on,
            ends_on=found.ends_on,
            members=[
                PermitReportMember(
                    organisation_id=_id(m.organisation_id),
                    organisation_name=m.organisation_name,
                    cover_spans=[CoverSpanInPeriod.of(span) for span in m.spans],
                )
                for m in found.members
            ],
            conditions=[PermitConditionCompliance.of(c) for c in found.conditions],
            late_returns=_flags(found, late=True),
            missing_returns=_flags(found, late=False),
            generated_at=found.generated_at,
        )


@strawberry.type(description="A short-lived link to the printable report, for a browser.")
class PermitReportLink:
    url: str = strawberry.field(
        description="The page's address, signed for the viewer; it works until expiresAt, and "
        "only while the viewer still may read the report."
    )
    expires_at: datetime = strawberry.field(description="When the link stops working (15 min).")


REPORT_PAGE = "/permits/report"


@strawberry.type
class ReturnsQuery:
    @strawberry.field(
        description="The viewer's organisation's return form for a period: pre-filled figures, "
        "the due day and whether it is late. For the member itself.",
        permission_classes=[IsAuthenticated],
    )
    async def permit_return_draft(
        self, info: strawberry.Info, condition_id: ConditionId, period_start: PeriodStart
    ) -> PermitReturnDraft:
        context = context_of(info)
        draft = await returns.return_draft(
            db=context.db,
            viewer=signed_in(info),
            condition_id=parse_id(condition_id, "conditionId"),
            period_start=period_start,
            now=context.clock.now(),
        )
        latest = draft.latest
        return PermitReturnDraft(
            condition_id=_id(draft.condition.id),
            organisation_id=_id(draft.organisation_id),
            period=ReportingPeriod.of(draft.period),
            unit_code=draft.condition.unit_code,
            sent_through_marketplace=plain_number(draft.sent_through_marketplace),
            latest=PermitReturnType.of(
                returns.ReturnView(
                    latest, draft.condition, draft.period, draft.late_if_filed_now, ""
                )
            )
            if latest is not None
            else None,
            expected_version=latest.version if latest is not None else 0,
            late=draft.late_if_filed_now,
        )

    @strawberry.field(
        description="The latest version of each return of a condition, the latest period "
        "first: every member's for the holder, the issuing authority and platform admins; a "
        "member's own for a member.",
        permission_classes=[IsAuthenticated],
    )
    async def permit_returns(
        self,
        info: strawberry.Info,
        condition_id: ConditionId,
        period_start: Annotated[
            date | None, strawberry.argument(description="Only this period.")
        ] = None,
        organisation_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this member's.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[PermitReturnType]:
        context = context_of(info)
        page = await returns.list_returns(
            db=context.db,
            viewer=signed_in(info),
            condition_id=parse_id(condition_id, "conditionId"),
            period_start=period_start,
            organisation_id=parse_optional_id(organisation_id, "organisationId"),
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[PermitReturnType].of(page, PermitReturnType.of)

    @strawberry.field(
        description="Every version of one member's return, the latest first (who may: as "
        "permitReturns).",
        permission_classes=[IsAuthenticated],
    )
    async def permit_return_versions(
        self,
        info: strawberry.Info,
        condition_id: ConditionId,
        period_start: PeriodStart,
        organisation_id: Annotated[strawberry.ID, strawberry.argument(description="The member.")],
        first: First = None,
        after: After = None,
    ) -> Connection[PermitReturnType]:
        context = context_of(info)
        page = await returns.return_versions(
            db=context.db,
            viewer=signed_in(info),
            condition_id=parse_id(condition_id, "conditionId"),
            period_start=period_start,
            organisation_id=parse_id(organisation_id, "organisationId"),
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[PermitReturnType].of(page, PermitReturnType.of)

    @strawberry.field(
        description="A condition's consolidated total against its cap in a period, with each "
        "member's figure against its allocation (a member sees its own row only).",
        permission_classes=[IsAuthenticated],
    )
    async def permit_condition_compliance(
        self, info: strawberry.Info, condition_id: ConditionId, period_start: PeriodStart
    ) -> PermitConditionCompliance:
        context = context_of(info)
        found = await compliance.condition_compliance(
            db=context.db,
            viewer=signed_in(info),
            condition_id=parse_id(condition_id, "conditionId"),
            period_start=period_start,
            now=context.clock.now(),
        )
        return PermitConditionCompliance.of(found)

    @strawberry.field(
        description="The consolidated report of a permit for the authority: for the holder, "
        "the issuing authority and platform admins.",
        permission_classes=[IsAuthenticated],
    )
    async def permit_report(
        self, info: strawberry.Info, permit_id: PermitId, period_start: ReportMonth
    ) -> PermitReport:
        context = context_of(info)
        found = await report.permit_report(
            db=context.db,
            viewer=signed_in(info),
            permit_id=parse_id(permit_id, "permitId"),
            period_start=period_start,
            now=context.clock.now(),
        )
        return PermitReport.of(found)

    @strawberry.field(
        description="A 15-minute link that opens the printable report in a browser, for the "
        "viewer (who may: as permitReport).",
        permission_classes=[IsAuthenticated],
    )
    async def permit_report_link(
        self, info: strawberry.Info, permit_id: PermitId, period_start: ReportMonth
    ) -> PermitReportLink:
        context = context_of(info)
        link = await report.report_link(
            db=context.db,
            viewer=signed_in(info),
            links=report.ReportLinks.of(context.settings),
            permit_id=parse_id(permit_id, "permitId"),
            period_start=period_start,
        )
        return PermitReportLink(
            url=context.absolute_url(f"{REPORT_PAGE}?link={link.token}"),
            expires_at=link.expires_at,
        )


@strawberry.type
class ReturnsMutation:
    @payload_mutation(
        description="File the next version of your organisation's return for a condition and "
        "a period that has started and in which it was covered. The marketplace's part is "
        "computed; warnings at 80 % and 100 % of the allocation and of the cap are sent once.",
        gates=(IsAuthenticated,),
    )
    async def permit_return_file(
        self,
        info: strawberry.Info,
        input: Annotated[PermitReturnFileInput, strawberry.argument(description="The version.")],
    ) -> PermitReturnPayload:
        context = context_of(info)
        view = await returns.file_return(
            db=context.db,
            viewer=signed_in(info),
            filing=input.to_service(),
            now=context.clock.now(),
        )
        return PermitReturnPayload(permit_return=PermitReturnType.of(view))
