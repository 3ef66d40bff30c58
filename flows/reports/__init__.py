"""Partner summaries: a month's HTML, PDF and CSV per partner, delivered by email.

    report_month(out, "YYYY-MM", sites, deliver=...)     the month's steps (month)
        build_reports -> PartnerReport                  rows, words, charts, maps (build, text,
                                                        figures, model)
        write_reports                                   <out>/reports/<YYYY-MM>/ (render, pdf)
        send_reports                                    SMTP or the outbox (deliver)
"""

from flows.reports.build import UNASSIGNED, build_reports, parse_month, partner_slug
from flows.reports.model import PartnerReport, ReportError, SiteReport
from flows.reports.month import REPORT_ERRORS, MonthResult, previous_month, report_month
from flows.reports.render import render_html, write_reports

__all__ = ["REPORT_ERRORS", "UNASSIGNED", "MonthResult", "PartnerReport", "ReportError",
           "SiteReport", "build_reports", "parse_month", "partner_slug", "previous_month",
           "render_html", "report_month", "write_reports"]
