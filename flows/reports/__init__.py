"""Partner summaries: a month's HTML, PDF and CSV per partner, delivered by email; a year's
evidence pack per partner.

    report_month(out, "YYYY-MM", sites, deliver=...)     the month's steps (month)
        build_reports -> PartnerReport                  rows, words, charts, maps (build, text,
                                                        ledger, places, figures, sitemap, model)
        write_reports                                   <out>/reports/<YYYY-MM>/ (render, pdf)
        send_reports                                    SMTP or the outbox (deliver)
    report_year(out, "YYYY", sites)                      the year's steps (year)
        build_annual -> AnnualReport                    accounts, ledger, standards (annual,
                                                        evidence)
        write_annual                                    <out>/reports/<YYYY>/ (render, pdf)
"""

from flows.reports.build import UNASSIGNED, build_reports, parse_month, partner_slug
from flows.reports.model import PartnerReport, ReportError, SiteReport
from flows.reports.month import REPORT_ERRORS, MonthResult, previous_month, report_month
from flows.reports.render import render_html, write_reports
from flows.reports.year import YearResult, report_year

__all__ = ["REPORT_ERRORS", "UNASSIGNED", "MonthResult", "PartnerReport", "ReportError",
           "SiteReport", "YearResult", "build_reports", "parse_month", "partner_slug",
           "previous_month", "render_html", "report_month", "report_year", "write_reports"]
