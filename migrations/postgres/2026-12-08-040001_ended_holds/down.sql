DROP TABLE ended_holds;
