"""Headings of the reports on the dashboard: report titles and column names, (vi, en)."""

from __future__ import annotations

Words = tuple[str, str]

TITLES: dict[str, Words] = {
    "sla": ("Phản hồi khách (SLA)", "Reply SLA"),
    "payments": ("Thanh toán và công nợ", "Payments and credit"),
    "incidents": ("Sự cố", "Incidents"),
    "care": ("Chăm sóc khách hàng", "Customer care"),
    "satisfaction": ("Mức độ hài lòng", "Satisfaction"),
    "products_by_customer": ("Sản phẩm theo khách hàng", "Products by customer"),
    "customers_by_product": ("Khách hàng theo sản phẩm", "Customers by product"),
    "customers_by_last_purchase": ("Khách theo lần mua gần nhất", "Customers by last purchase"),
    "customers_by_birthday_month": ("Khách theo tháng sinh", "Customers by birthday month"),
    "customers_by_gender": ("Khách theo giới tính", "Customers by gender"),
    "customers_by_age_band": ("Khách theo độ tuổi", "Customers by age"),
    "customers_by_channel": ("Khách theo nguồn", "Customers by source"),
    "customers_by_customer_group": ("Khách theo nhóm khách", "Customers by customer group"),
    "customers_by_region": ("Khách theo khu vực", "Customers by region"),
    "customers_by_contact_channel": ("Khách theo kênh liên hệ", "Customers by contact channel"),
}

COLUMNS: dict[str, Words] = {
    "staff_id": ("Mã NV", "Staff id"),
    "staff_name": ("Nhân viên", "Staff"),
    "clocks": ("Lượt chờ", "Waits"),
    "answered": ("Đã trả lời", "Answered"),
    "in_time": ("Đúng hạn", "In time"),
    "compliance_pct": ("% đúng hạn", "% in time"),
    "median_response_min": ("Phản hồi (phút, trung vị)", "Median response (min)"),
    "breaches": ("Quá hạn", "Breaches"),
    "kind": ("Loại", "Kind"),
    "requested": ("Đề nghị", "Requested"),
    "requested_amount": ("Số tiền đề nghị", "Amount requested"),
    "approved": ("Đã duyệt", "Approved"),
    "approved_amount": ("Số tiền duyệt", "Amount approved"),
    "rejected": ("Từ chối", "Rejected"),
    "rejected_amount": ("Số tiền từ chối", "Amount rejected"),
    "median_approval_min": ("Thời gian duyệt (phút, trung vị)", "Median approval (min)"),
    "type": ("Loại", "Type"),
    "opened": ("Ghi nhận", "Opened"),
    "resolved": ("Đã xử lý", "Resolved"),
    "median_resolution_min": ("Thời gian xử lý (phút, trung vị)", "Median resolution (min)"),
    "done": ("Lần chăm sóc", "Care contacts"),
    "orders_cared": ("Đơn được chăm sóc", "Orders cared for"),
    "due_waiting": ("Đến hạn, đang chờ", "Due, waiting"),
    "overdue": ("Quá hạn", "Overdue"),
    "index": ("Chỉ số hài lòng", "Satisfaction index"),
    "ratings": ("Đánh giá", "Ratings"),
    "avg_rating": ("Điểm TB", "Average score"),
    "feedbacks": ("Phản hồi", "Feedback"),
    "positive": ("Tích cực", "Positive"),
    "negative": ("Tiêu cực", "Negative"),
    "customer_id": ("Mã KH", "Customer id"),
    "customer_name": ("Khách hàng", "Customer"),
    "product_code": ("Mã SP", "Product code"),
    "product_name": ("Sản phẩm", "Product"),
    "product_group": ("Nhóm hàng", "Product group"),
    "orders": ("Đơn", "Orders"),
    "quantity": ("Số lượng", "Quantity"),
    "amount": ("Thành tiền", "Amount"),
    "last_purchase": ("Mua gần nhất", "Last purchase"),
    "phone": ("SĐT", "Phone"),
    "region": ("Khu vực", "Region"),
    "bucket": ("Số ngày từ lần mua cuối", "Days since last purchase"),
    "customers": ("Số khách", "Customers"),
    "percent": ("%", "%"),
    "birthday_month": ("Tháng sinh", "Birthday month"),
    "gender": ("Giới tính", "Gender"),
    "age_band": ("Độ tuổi", "Age"),
    "channel": ("Nguồn", "Source"),
    "customer_group": ("Nhóm khách", "Customer group"),
    "contact_channel": ("Kênh liên hệ", "Contact channel"),
}

# Cells shown with a display word from labels.toml: column -> labels section.
VALUE_LABELS = {
    "kind": "payment_kinds",
    "type": "incident_types",
    "gender": "genders",
    "customer_group": "customer_groups",
}
MONEY = frozenset({"requested_amount", "approved_amount", "rejected_amount", "amount"})
PERCENT = frozenset({"compliance_pct", "percent"})
