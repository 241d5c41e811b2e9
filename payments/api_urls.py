from django.urls import path

from payments import api

urlpatterns = [
    path("projects/<id:project_id>/fund/", api.FundApi.as_view(), name="fund"),
    path("projects/<id:project_id>/budget/", api.BudgetApi.as_view(), name="budget"),
    path("me/earnings/", api.EarningsApi.as_view(), name="earnings"),
    path("me/work-record/", api.MyWorkRecordApi.as_view(), name="my-work-record"),
    path("work-records/verify/", api.WorkRecordVerifyApi.as_view(), name="work-record-verify"),
    path("me/reviews/", api.MyReviewsApi.as_view(), name="my-reviews"),
    path("payouts/", api.PayoutsApi.as_view(), name="payouts"),
    path("reports/", api.ReportsApi.as_view(), name="reports"),
    path("reports/<id:report_id>/", api.ReportApi.as_view(), name="report"),
    path("ledger/verify/", api.LedgerVerifyApi.as_view(), name="ledger-verify"),
    path("projects/<id:project_id>/voice/", api.VoiceSendApi.as_view(), name="voice-send"),
    path("voice/", api.VoiceListApi.as_view(), name="voice"),
    path("annotations/<id:annotation_id>/approve/", api.ApproveApi.as_view(), name="approve"),
    path("annotations/<id:annotation_id>/reject/", api.RejectApi.as_view(), name="reject"),
    path("annotations/<id:annotation_id>/appeal/", api.AppealApi.as_view(), name="appeal"),
    path("annotations/<id:annotation_id>/decide/", api.DecideApi.as_view(), name="decide"),
]
