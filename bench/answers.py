"""The answers every load-benchmark customer gives (``locustfile`` and ``load_bench``'s plain client)."""

SURVEY = {"attitude": "5", "speed": "4", "professionalism": "5", "problem_solving": "4", "helpfulness": "5",
          "overall": "4", "nps": "9", "improve": "周末也能上门就更好了", "comments": "", "contact_name": "",
          "contact_details": ""}  # fmt: skip
