"""The demo's cast and words: the staff, the customers' companies, what customers write, and the
working days the month is played over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.core.worktime import Calendar

SALES, SALES2, HEAD = "1000000000000000001", "1000000000000000002", "1000000000000000003"


ACCOUNTANT, CHIEF = "1000000000000000004", "1000000000000000005"


WAREHOUSE, SHIPPING = "1000000000000000006", "1000000000000000007"


FIRST_CUSTOMER = 2000000000000000101


SALES_NAMES = {SALES: ("An", "Nguyễn Văn An"), SALES2: ("Bình", "Trần Thị Bình")}


# Share of answers that come after the reminder, per sales; a day's breaches stay under
# MAX_LATE of its questions, so daily compliance stays between about 70 and 100%.
LATENESS = {SALES: 0.15, SALES2: 0.3}


MAX_LATE = 0.3


ASKING = {"question", "opening", "quote", "lost", "won"}  # episodes the customer asks in


COMPANIES = [
    ("Công ty TNHH Minh Phát", "HCM", "si"),
    ("Nhà hàng Sen Vàng", "Hà Nội", "vip"),
    ("Khách sạn Biển Xanh", "Đà Nẵng", "vip"),
    ("Công ty CP Thực phẩm An Khang", "Bình Dương", "si"),
    ("Trường mầm non Hoa Mai", "HCM", "le"),
    ("Siêu thị mini Phú Thịnh", "Cần Thơ", "si"),
    ("Quán cà phê Gió Núi", "Đà Lạt", "le"),
    ("Công ty TNHH Nam Việt", "Hải Phòng", "si"),
    ("Spa Thanh Tâm", "HCM", "le"),
    ("Phòng khám Đa khoa Tâm An", "Hà Nội", "vip"),
    ("Chuỗi giặt là Sạch Thơm", "HCM", "si"),
    ("Công ty Xây dựng Hưng Thịnh", "Đồng Nai", "si"),
]


QUESTIONS = [
    ("Shop ơi báo giá giúp anh lõi lọc PP 5 micron loại 10 inch",
     "Dạ lõi PP 5 micron bên em 45.000đ/lõi, lấy từ 20 lõi là 40.000đ/lõi ạ"),
    ("Máy lọc RO 10 lõi bảo hành bao lâu em?",
     "Dạ máy bảo hành 24 tháng, đến hạn thay lõi bên em nhắc lịch ạ"),
    ("Tuần này bên em giao được 50 thùng nước giặt không?",
     "Dạ được anh ạ, kho còn hàng, em xếp xe giao thứ 5 nhé"),
    ("Cho chị hỏi nước rửa chén 750ml có mùi trà xanh không em?",
     "Dạ hiện bên em có hương chanh thôi chị ạ, tháng sau mới về trà xanh"),
    ("Hóa đơn VAT tháng này em gửi qua email giúp anh nhé",
     "Dạ em báo kế toán xuất và gửi email cho anh trong hôm nay ạ"),
    ("Nồi chiên 6L còn màu đen không em?", "Dạ còn 12 cái màu đen ạ, em giữ hàng cho chị nhé"),
    ("Màng RO dùng bao lâu thì phải thay vậy em?",
     "Dạ màng RO khoảng 18-24 tháng tùy nguồn nước, lõi PP thì 3 tháng ạ"),
    ("Xe giao hàng mấy giờ tới vậy em?", "Dạ xe đang trên đường, khoảng 30 phút nữa tới ạ"),
    ("Nước lau sàn tinh dầu quế có can 5 lít không em?",
     "Dạ có can 5L giá 185.000đ ạ, em gửi ảnh anh xem nhé"),
    ("Máy lọc ở bếp chảy nước hơi yếu, bên em qua kiểm tra được không?",
     "Dạ em xếp kỹ thuật qua kiểm tra sáng mai anh nhé"),
    ("Em gửi lại giúp chị bảng giá mới nhất nhé",
     "Dạ em gửi chị bảng giá tháng này ạ, đơn trên 10 triệu có chiết khấu theo chính sách"),
    ("Lô nước giặt tháng trước dùng tốt, tháng này lấy thêm được không em?",
     "Dạ được ạ, em lên đơn như tháng trước cho anh nhé"),
]  # fmt: skip


THANKS = ["Ok em", "Cảm ơn em nhé", "Dạ vâng", "Ok, cảm ơn em", "👍"]


NOTES = [
    "goi tichcuc Khách hài lòng, hỏi thêm máy lọc cho chi nhánh 2",
    "gap binhthuong Ghé văn phòng khách, kiểm tra kho hàng của khách",
    "email binhthuong Gửi catalogue sản phẩm mới",
    "nhan tichcuc Khách hẹn đặt thêm hàng cuối tháng",
    "goi khongnghe Gọi 2 lần khách không nghe máy, hẹn gọi lại chiều",
]


# Orders: the first care date is the purchase + interval × quantity (config/products.csv).
ORDERS = [
    ("MLN-RO10 x2, LOC-PP5 x2", 18_600_000),
    ("NG-36 x3, NRC-750 x4", 2_450_000),
    ("LOC-RO x1, LOC-CTO x2, LOC-PP5 x2", 3_200_000),
    ("NCK-6L x4", 7_600_000),
    ("NLS-1L x2, NRC-750 x2", 1_560_000),
]


RATINGS = ["5", "5 sao", "4 sao nhé", "5", "4"]


# (type, what the customer writes, the incident, who handles it, how it was resolved)
INCIDENTS = [
    ("thieuhang", "Shop ơi hàng giao thiếu 2 thùng nước giặt rồi em",
     "Giao thiếu 2 thùng NG-36, khách gửi ảnh phía trên", WAREHOUSE,
     "Đã giao bù 2 thùng, khách đã nhận đủ"),
    ("hong", "Em ơi có 3 chai nước rửa chén bị vỡ nắp, chảy ra cả thùng",
     "3 chai NRC-750 vỡ nắp khi giao, khách gửi ảnh", WAREHOUSE, "Đã đổi 3 chai mới cho khách"),
    ("giaocham", "Hẹn giao sáng nay mà giờ chưa thấy xe đâu em ơi",
     "Giao chậm so với hẹn, khách chờ từ sáng", SHIPPING, "Xe đã giao đủ, đã xin lỗi khách"),
    ("giaosai", "Em ơi giao nhầm lõi CTO thành lõi PP rồi",
     "Giao nhầm mã: lõi CTO thành lõi PP5", WAREHOUSE, "Đã đổi đúng lõi CTO"),
]  # fmt: skip


CARE = [
    "Khách dùng tốt, hẹn kiểm tra lõi lọc tichcuc",
    "Gọi hỏi thăm, khách hài lòng với nước giặt tichcuc",
    "Khách báo máy chạy êm, muốn xem thêm mẫu mới binhthuong",
]


WAITING = "Em ơi kiểm tra giúp anh đơn tuần sau giao được ngày nào?"


# The story of a group, by its working day (0 = created), squeezed into short demos.
MILESTONES = [(0, "opening"), (1, "quote"), (2, "lost"), (3, "won"), (5, "delivered"),
              (8, "incident"), (10, "note"), (11, "big_payment"), (12, "care"), (14, "credit"),
              (15, "promise"), (16, "handover")]  # fmt: skip


LAST_MILESTONE = 16


Gap = float | tuple[float, float]  # working minutes after the previous line, or a range


def vnd(amount: int) -> str:
    """19000000 -> '19.000.000', as staff type amounts."""
    return f"{amount:,}".replace(",", ".")


@dataclass
class Customer:
    """One customer group and the people in it."""

    index: int
    group_id: str
    customer_id: str
    company: str
    region: str
    tier: str
    phone: str
    sales: str
    order: tuple[str, int]
    cursor: datetime | None = None  # the group's last planned moment
    lost: bool = False

    def wanted(self) -> set[str]:
        """The milestones of this group's story."""
        if self.index == 6:
            return {"opening", "quote", "lost"}
        kinds = {"opening", "quote", "won", "delivered", "note", "care"}
        extras = {
            "incident": self.index % 3 != 2,
            "big_payment": self.index % 4 == 0,
            "credit": self.index % 4 == 3,
            "promise": self.index == 1,
            "handover": self.index == 5,
        }
        return kinds | {kind for kind, on in extras.items() if on}


@dataclass(frozen=True)
class Day:
    """One working day: the local date, when it opens (UTC), its working minutes."""

    day: date
    opens: datetime
    minutes: float


def working_days(calendar: Calendar, end: datetime, days: int) -> list[Day]:
    """The working days among the `days` calendar days ending with `end`'s, cut at `end`."""
    result: list[Day] = []
    last = end.astimezone(calendar.tz).date()
    for back in range(days - 1, -1, -1):
        day = last - timedelta(days=back)
        midnight = datetime.combine(day, time(), tzinfo=calendar.tz)
        opens = calendar.next_opening(midnight)
        close = min(midnight + timedelta(days=1), end)
        if opens.astimezone(calendar.tz).date() == day and opens < close:
            result.append(Day(day, opens, calendar.between(opens, close).total_seconds() / 60))
    return result


def before(calendar: Calendar, end: datetime, minutes: float) -> datetime:
    """The moment `minutes` of working time before `end`."""
    wanted, low, high = timedelta(minutes=minutes), end - timedelta(days=14), end
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        low, high = (middle, high) if calendar.between(middle, end) > wanted else (low, middle)
    return high.replace(microsecond=0)


class DemoError(Exception):
    """The demo cannot be played as asked; the message says why, in one line."""
