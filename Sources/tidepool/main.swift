print("tidepool")
