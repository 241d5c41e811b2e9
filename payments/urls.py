from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("earnings/", views.earnings, name="earnings"),
    path("earnings/record/", views.work_record, name="work_record"),
    path("work-record/verify/", views.work_record_verify, name="work_record_verify"),
    path("earnings/payout/", views.payout_request, name="payout"),
    path("earnings/appeal/<id:annotation_id>/", views.appeal, name="appeal"),
    path("projects/<id:project_id>/budget/", views.budget, name="budget"),
    path("projects/<id:project_id>/fund/", views.fund, name="fund"),
    path("payouts/", views.payouts, name="payouts"),
    path("audit/reports/", views.reports, name="reports"),
    path("audit/reports/<id:report_id>/", views.report, name="report"),
    path("audit/reports/<id:report_id>/csv/", views.report_csv, name="report_csv"),
    path("audit/reports/<id:report_id>/days.csv", views.report_days_csv, name="report_days_csv"),
    path("projects/<id:project_id>/voice/", views.voice_send, name="voice_send"),
    path("audit/voice/", views.voice_list, name="voice"),
    path("payouts.csv", views.payouts_csv, name="payouts_csv"),
]
