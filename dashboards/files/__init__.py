"""Files written for people: CSV and Excel exports (formula-safe), their provenance sheet, the HTML report."""
