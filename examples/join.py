"""Join: customers with their orders, the reduce-side way.

Run it from any folder (the data is found next to this file):

    python join.py

It joins data/customers.csv (customer_id, name, country) with data/orders.csv
(order_id, customer_id, date, amount) on customer_id and prints, per customer, the
number of orders and their total. A customer without orders still appears (with 0):
this is a left outer join. Orders whose customer is unknown are counted, not shown.

What it shows: the classic reduce-side join. Each record is tagged with the dataset
it came from; the mapper keys both kinds by the join key; the reducer, called once per
customer_id, receives that customer's row and all of its orders together.
"""

import csv
import itertools
import os

from mapred import increment, mapreduce

# The example's data, found from this file so that it runs from any folder.
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def tagged_rows(path, tag):
    """Yield (tag, row) for every row of a CSV file, rows as dicts."""
    with open(path, newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            yield tag, row


def to_cents(amount):
    """ "12.50" -> 1250: money in integer cents, so sums are exact."""
    units, _, cents = amount.partition(".")
    return int(units) * 100 + int(cents.ljust(2, "0"))


def mapper(record):
    """Key both datasets by customer_id, keeping a tag that says which is which."""
    tag, row = record
    if tag == "customer":
        yield row["customer_id"], ("customer", (row["name"], row["country"]))
    else:
        yield row["customer_id"], ("order", to_cents(row["amount"]))


def join(customer_id, tagged_values):
    """Combine one customer's row with its orders: (name, country, orders, cents).

    The values come in input order, so the customer row (its file is read first)
    comes before the orders; the loop does not rely on that, though, and would also
    work with the files the other way round.
    """
    customer = None
    orders = cents = 0
    for tag, value in tagged_values:
        if tag == "customer":
            customer = value
        else:
            orders += 1
            cents += value
    if customer is None:  # orders of a customer missing from customers.csv
        increment("orders without a customer", orders)
        return None
    name, country = customer
    return name, country, orders, cents


if __name__ == "__main__":
    records = itertools.chain(
        tagged_rows(os.path.join(DATA, "customers.csv"), "customer"),
        tagged_rows(os.path.join(DATA, "orders.csv"), "order"),
    )
    joined = mapreduce(mapper, join, records)

    print("customer  name                country  orders    total")
    for customer_id, row in joined.items():  # in customer_id order
        if row is None:
            continue
        name, country, orders, cents = row
        print(f"{customer_id:<8}  {name:<18}  {country:<7}  {orders:>6}  {cents / 100:>7.2f}")
    unmatched = joined.counters.get("user", {}).get("orders without a customer", 0)
    print(f"orders without a customer: {unmatched}")
