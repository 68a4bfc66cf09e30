DROP TABLE line_starts;
