"""Writes crm/demo_data/*.csv, the demo shop's customers and orders.

The CSV files are checked in so owners can see the import format; this module
is how they were made (`python -m crm.demo_gen` rewrites them) and a test
checks they still match. Dates are written relative to DEMO_TODAY; seeding
moves them so that DEMO_TODAY becomes the day of seeding (see crm.demo).

Fixed facts other tests rely on:
- C001 Amelia Hughes: order 1043 shipped (Royal Mail) 4 days before today,
  four older delivered orders; segment "returning".
- C002 Oliver Bennett: order 1044 paid (not shipped, cancellable), order 1040
  delivered 11 days before today (returnable); segment "returning".
- C003 Sophie Turner: VIP (many large orders).
- C004 Callum Reid: exactly one order (segment "new").
- C005 Lukas Schneider: Telegram user id 5550001.
- C027, C028: no orders at all.
"""

from __future__ import annotations

import csv
import io
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from crm.import_rows import CUSTOMER_COLUMNS, ORDER_COLUMNS

DEMO_TODAY = date(2026, 11, 16)
DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
SEED = 1043

# name, price, category
PRODUCTS: list[tuple[str, str, str]] = [
    ("Earl Grey Loose Leaf Tea 200g", "8.50", "tea"),
    ("Assam Breakfast Tea 250g", "7.95", "tea"),
    ("Sencha Green Tea 100g", "9.50", "tea"),
    ("Tea Sampler Box", "18.00", "tea"),
    ("Glass Teapot with Infuser", "24.00", "tea"),
    ("Cast Iron Teapot", "42.00", "tea"),
    ("Blue Stoneware Mug", "14.00", "tea"),
    ("Speckled Stoneware Mug", "14.00", "tea"),
    ("Bamboo Tea Caddy", "16.50", "tea"),
    ("Oak Serving Board", "36.00", "kitchen"),
    ("Walnut Chopping Board", "48.00", "kitchen"),
    ("Linen Tea Towel Set", "16.00", "kitchen"),
    ("Copper Measuring Spoons", "19.50", "kitchen"),
    ("Enamel Saucepan 20cm", "39.00", "kitchen"),
    ("Cast Iron Skillet 26cm", "55.00", "kitchen"),
    ("Beeswax Food Wraps (Set of 3)", "12.00", "kitchen"),
    ("Oak Salt Cellar", "15.00", "kitchen"),
    ("Wool Throw Blanket", "68.00", "home"),
    ("Fig & Cedar Soy Candle", "21.00", "home"),
    ("Rattan Bread Basket", "18.50", "home"),
    ("Linen Napkins (Set of 4)", "22.00", "home"),
    ("Hand-thrown Stoneware Vase", "34.00", "home"),
]
PRICES = {name: Decimal(price) for name, price, _ in PRODUCTS}


@dataclass
class DemoCustomer:
    customer_id: str
    first_name: str
    last_name: str
    country: str  # where their parcels go: decides the carrier
    taste: str  # the product category they mostly buy
    phone: bool = True
    telegram: str = ""
    locale: str = "en"
    domain: str = "example.com"
    marketing: bool | None = None


CUSTOMERS = [
    DemoCustomer("C001", "Amelia", "Hughes", "GB", "tea", marketing=True),
    DemoCustomer("C002", "Oliver", "Bennett", "GB", "kitchen", marketing=False),
    DemoCustomer("C003", "Sophie", "Turner", "GB", "home", marketing=True),
    DemoCustomer("C004", "Callum", "Reid", "GB", "kitchen", domain="example.org", marketing=False),
    DemoCustomer(
        "C005", "Lukas", "Schneider", "GB", "tea", telegram="5550001", locale="de", domain="example.org", marketing=True
    ),
    DemoCustomer("C006", "Chloé", "Dubois", "FR", "home", phone=False, locale="fr", domain="example.org"),
    DemoCustomer("C007", "Siobhán", "Murphy", "IE", "tea", phone=False),
    DemoCustomer("C008", "Hannah", "Clarke", "GB", "home"),
    DemoCustomer("C009", "James", "Whitfield", "GB", "kitchen", domain="example.org"),
    DemoCustomer("C010", "Aoife", "Byrne", "IE", "tea", phone=False, telegram="5550002"),
    DemoCustomer("C011", "Marta", "Kowalska", "GB", "kitchen", domain="example.org"),
    DemoCustomer("C012", "Rhys", "Morgan", "GB", "tea"),
    DemoCustomer("C013", "Giulia", "Romano", "IT", "kitchen", phone=False, locale="it"),
    DemoCustomer("C014", "Pieter", "de Vries", "NL", "tea", phone=False, locale="nl", domain="example.org"),
    DemoCustomer("C015", "Isla", "MacLeod", "GB", "home"),
    DemoCustomer("C016", "Noah", "Patel", "GB", "kitchen", domain="example.org"),
    DemoCustomer("C017", "Priya", "Sharma", "GB", "tea", telegram="5550003"),
    DemoCustomer("C018", "Elena", "García", "ES", "home", phone=False, locale="es", domain="example.org"),
    DemoCustomer("C019", "Freya", "Lindqvist", "SE", "kitchen", phone=False, locale="sv"),
    DemoCustomer("C020", "Thomas", "Wright", "GB", "kitchen"),
    DemoCustomer("C021", "Eleanor", "Price", "GB", "home", domain="example.org"),
    DemoCustomer("C022", "Søren", "Madsen", "DK", "tea", phone=False, locale="da"),
    DemoCustomer("C023", "Anouk", "Janssen", "BE", "home", phone=False, locale="nl", domain="example.org"),
    DemoCustomer("C024", "Harriet", "Lewis", "GB", "home", marketing=True),
    DemoCustomer("C025", "Daniel", "Okafor", "GB", "kitchen", domain="example.org"),
    DemoCustomer("C026", "Zofia", "Nowak", "GB", "tea"),
    DemoCustomer("C027", "Mateo", "Fernández", "ES", "kitchen", phone=False, locale="es"),
    DemoCustomer("C028", "Grace", "Whitaker", "GB", "tea", domain="example.org"),
]
NO_ORDERS = {"C027", "C028"}
CANCELLED_FOR = ("C009", "C016", "C021", "C026")  # their first order was cancelled
RETURNED_FOR = ("C008", "C015", "C020")  # their latest older order was returned
FIRST_NUMBER = 971  # older orders are 971-1039, the recent ones 1040-1046


@dataclass
class DemoOrder:
    customer_id: str
    placed: datetime
    status: str
    items: list[tuple[int, str]]
    number: int = 0
    carrier: str = ""
    tracking: str = ""
    shipped: datetime | None = None
    delivered: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((PRICES[name] * qty for qty, name in self.items), Decimal("0.00"))


def _ascii(text: str) -> str:
    text = text.replace("ø", "o").replace("Ø", "O")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def email_of(customer: DemoCustomer) -> str:
    local = f"{_ascii(customer.first_name)}.{_ascii(customer.last_name)}".lower().replace(" ", "")
    return f"{local}@{customer.domain}"


def _at(days_ago: int, hour: int, minute: int) -> datetime:
    return datetime.combine(DEMO_TODAY - timedelta(days=days_ago), time(hour, minute))


class _Generator:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.by_id = {c.customer_id: c for c in CUSTOMERS}

    def items(self, taste: str, *, lines: int | None = None) -> list[tuple[int, str]]:
        pool = [name for name, _, category in PRODUCTS if category == taste]
        others = [name for name, _, category in PRODUCTS if category != taste]
        count = lines or self.rng.choice([1, 1, 2, 2, 3])
        chosen: list[str] = []
        while len(chosen) < count:
            name = self.rng.choice(pool if self.rng.random() < 0.8 else others)
            if name not in chosen:
                chosen.append(name)
        return [(self.rng.choice([1, 1, 1, 2]) if PRICES[n] > 20 else self.rng.choice([1, 2, 3]), n) for n in chosen]

    def ship(self, order: DemoOrder, *, carrier: str | None = None, delivered: bool = True) -> None:
        country = self.by_id[order.customer_id].country
        if carrier is None:
            carrier = "DHL" if country != "GB" else self.rng.choice(["Royal Mail", "Royal Mail", "Evri", "DPD"])
        order.carrier = carrier
        order.tracking = self.tracking(carrier)
        shipped_day = order.placed.date() + timedelta(days=1 if order.placed.hour >= 13 else 0)
        if shipped_day.weekday() == 6:
            shipped_day += timedelta(days=1)
        order.shipped = datetime.combine(shipped_day, time(15 + self.rng.randint(0, 2), self.rng.randint(0, 59)))
        if delivered:
            days = self.rng.randint(1, 3) if country == "GB" else self.rng.randint(3, 6)
            order.delivered = datetime.combine(
                shipped_day + timedelta(days=days), time(self.rng.randint(9, 17), self.rng.randint(0, 59))
            )

    def tracking(self, carrier: str) -> str:
        digits = lambda n: "".join(str(self.rng.randint(0, 9)) for _ in range(n))  # noqa: E731
        letters = lambda n: "".join(self.rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(n))  # noqa: E731
        if carrier == "Royal Mail":
            return f"{letters(2)}{digits(9)}GB"
        if carrier == "DPD":
            return f"1550{digits(10)}"
        if carrier == "Evri":
            return f"H{digits(2)}{letters(3)}{digits(10)}"
        return digits(10)  # DHL

    def older_orders(self) -> list[DemoOrder]:
        orders: list[DemoOrder] = []

        def add(cid: str, days_ago: int, items: list[tuple[int, str]] | None = None) -> None:
            placed = _at(days_ago, self.rng.randint(7, 22), self.rng.randint(0, 59))
            taste = self.by_id[cid].taste
            orders.append(DemoOrder(cid, placed, "delivered", items or self.items(taste)))

        # Amelia: four small tea orders, two of them in the last year.
        for days_ago, items in [
            (610, [(2, "Earl Grey Loose Leaf Tea 200g"), (1, "Blue Stoneware Mug")]),
            (390, [(1, "Tea Sampler Box")]),
            (200, [(1, "Glass Teapot with Infuser"), (1, "Assam Breakfast Tea 250g")]),
            (75, [(2, "Sencha Green Tea 100g"), (1, "Bamboo Tea Caddy")]),
        ]:
            add("C001", days_ago, items)
        add("C002", 300, [(1, "Oak Serving Board"), (1, "Linen Tea Towel Set")])
        # Sophie: the shop's best customer, large orders.
        for days_ago, items in [
            (650, [(2, "Wool Throw Blanket"), (2, "Fig & Cedar Soy Candle")]),
            (540, [(1, "Cast Iron Teapot"), (4, "Speckled Stoneware Mug")]),
            (420, [(1, "Hand-thrown Stoneware Vase"), (2, "Linen Napkins (Set of 4)")]),
            (330, [(1, "Wool Throw Blanket"), (1, "Rattan Bread Basket"), (3, "Fig & Cedar Soy Candle")]),
            (240, [(1, "Walnut Chopping Board"), (1, "Cast Iron Skillet 26cm")]),
            (160, [(2, "Hand-thrown Stoneware Vase"), (1, "Wool Throw Blanket"), (1, "Tea Sampler Box")]),
            (90, [(1, "Wool Throw Blanket"), (2, "Linen Napkins (Set of 4)")]),
            (40, [(1, "Enamel Saucepan 20cm"), (2, "Oak Salt Cellar"), (1, "Fig & Cedar Soy Candle")]),
        ]:
            add("C003", days_ago, items)
        add("C004", 120, [(1, "Walnut Chopping Board")])
        add("C005", 480)
        add("C005", 150)
        # Rhys: small but frequent, VIP by number of orders.
        for days_ago in (340, 280, 210, 150, 95, 30):
            add("C012", days_ago, self.items("tea", lines=1))
        # Harriet: two big orders, VIP by spend.
        big = [(3, "Wool Throw Blanket"), (2, "Cast Iron Skillet 26cm"), (2, "Walnut Chopping Board")]
        add("C024", 500, big)
        add("C024", 220, big)

        fixed = {"C001", "C002", "C003", "C004", "C005", "C012", "C024"}
        rest = [c.customer_id for c in CUSTOMERS if c.customer_id not in fixed | NO_ORDERS]
        counts = {cid: self.rng.choice([1, 2, 2, 3, 3, 4]) for cid in rest}
        wanted = (1040 - FIRST_NUMBER) - len(orders)
        while sum(counts.values()) != wanted:
            cid = self.rng.choice(rest)
            if sum(counts.values()) < wanted:
                counts[cid] += 1
            elif counts[cid] > 1:
                counts[cid] -= 1
        for cid in rest:
            for days_ago in sorted(self.rng.sample(range(16, 700), counts[cid]), reverse=True):
                add(cid, days_ago)

        orders.sort(key=lambda o: o.placed)
        for cid in CANCELLED_FOR:
            next(o for o in orders if o.customer_id == cid).status = "cancelled"
        for cid in RETURNED_FOR:
            [o for o in orders if o.customer_id == cid][-1].status = "returned"
        for order in orders:
            if order.status != "cancelled":
                self.ship(order)
        return orders

    def recent_orders(self) -> list[DemoOrder]:
        o1040 = DemoOrder("C002", _at(14, 10, 12), "delivered", [(1, "Cast Iron Skillet 26cm"), (2, "Linen Tea Towel Set")])
        o1040.carrier, o1040.tracking = "Royal Mail", self.tracking("Royal Mail")
        o1040.shipped, o1040.delivered = _at(13, 15, 40), _at(11, 11, 5)
        o1041 = DemoOrder("C017", _at(11, 9, 30), "delivered", [(2, "Assam Breakfast Tea 250g"), (1, "Speckled Stoneware Mug")])
        o1041.carrier, o1041.tracking = "Evri", self.tracking("Evri")
        o1041.shipped, o1041.delivered = _at(10, 16, 5), _at(8, 13, 20)
        o1042 = DemoOrder("C003", _at(9, 20, 15), "delivered", [(1, "Wool Throw Blanket"), (1, "Hand-thrown Stoneware Vase")])
        o1042.carrier, o1042.tracking = "DPD", self.tracking("DPD")
        o1042.shipped, o1042.delivered = _at(7, 15, 10), _at(6, 10, 45)
        o1043 = DemoOrder("C001", _at(6, 19, 47), "shipped", [(1, "Cast Iron Teapot"), (2, "Earl Grey Loose Leaf Tea 200g")])
        o1043.carrier, o1043.tracking = "Royal Mail", self.tracking("Royal Mail")
        o1043.shipped = _at(4, 14, 30)
        o1044 = DemoOrder("C002", _at(3, 8, 55), "paid", [(1, "Walnut Chopping Board"), (1, "Oak Salt Cellar")])
        o1045 = DemoOrder("C005", _at(3, 21, 10), "shipped", [(1, "Tea Sampler Box"), (2, "Blue Stoneware Mug")])
        o1045.carrier, o1045.tracking = "DPD", self.tracking("DPD")
        o1045.shipped = _at(2, 16, 20)
        o1046 = DemoOrder("C013", _at(1, 12, 30), "placed", [(1, "Enamel Saucepan 20cm"), (1, "Copper Measuring Spoons")])
        return [o1040, o1041, o1042, o1043, o1044, o1045, o1046]


def build_demo_csv() -> tuple[str, str]:
    """(customers.csv, orders.csv) as text, the same every time."""
    generator = _Generator()
    customers = io.StringIO()
    writer = csv.writer(customers, lineterminator="\n")
    # The demo's customers were never asked about order notices: that column stays out.
    writer.writerow([c for c in CUSTOMER_COLUMNS if c != "order_updates_opt_in"])
    for index, customer in enumerate(CUSTOMERS, start=1):
        marketing = customer.marketing if customer.marketing is not None else generator.rng.random() < 0.5
        writer.writerow(
            [
                customer.customer_id,
                customer.first_name,
                customer.last_name,
                email_of(customer),
                f"+447700900{100 + index}" if customer.phone else "",
                customer.telegram,
                customer.locale,
                "yes" if marketing else "no",
            ]
        )

    orders = generator.older_orders() + generator.recent_orders()
    for number, order in enumerate(orders, start=FIRST_NUMBER):
        order.number = number
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ORDER_COLUMNS)
    stamp = lambda value: value.strftime("%Y-%m-%d %H:%M") if value else ""  # noqa: E731
    for order in orders:
        writer.writerow(
            [
                order.number,
                order.customer_id,
                stamp(order.placed),
                order.status,
                "; ".join(f"{qty}x {name} @ {PRICES[name]}" for qty, name in order.items),
                f"{order.total:.2f}",
                "GBP",
                order.carrier,
                order.tracking,
                stamp(order.shipped),
                stamp(order.delivered),
            ]
        )
    return customers.getvalue(), out.getvalue()


def write_demo_csv(directory: Path = DEMO_DATA) -> None:
    customers, orders = build_demo_csv()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "customers.csv").write_text(customers, encoding="utf-8")
    (directory / "orders.csv").write_text(orders, encoding="utf-8")


if __name__ == "__main__":
    write_demo_csv()
    print(f"wrote {DEMO_DATA / 'customers.csv'} and {DEMO_DATA / 'orders.csv'}")
