"""The few health columns the criteria read, as a hand-made schema for small hand-written cases."""

CRITERIA_DDL = [
    "CREATE TABLE person (person_id BIGINT, birth_date DATE, sex VARCHAR, death_date DATE, move_out_date DATE, "
    "moved_in_date DATE)",
    "CREATE TABLE diagnosis (person_id BIGINT, diagnosis_date DATE, icd10_code VARCHAR)",
    "CREATE TABLE prescription (person_id BIGINT, atc_code VARCHAR, start_date DATE, end_date DATE)",
    "CREATE TABLE health_visit (visit_id BIGINT, visit_type VARCHAR)",
    "CREATE TABLE measurement (person_id BIGINT, visit_id BIGINT, measured_on DATE, code VARCHAR, value DOUBLE, "
    "unit VARCHAR)",
]
